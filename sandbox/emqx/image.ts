// What an EMQX container image says about the node it runs: edition, version and OTP release.
//
// Rules (see README.md):
// - The repository's last path segment must be `emqx` or `emqx-enterprise`; any registry/namespace prefix is
//   allowed (`docker.io/emqx/emqx`, `registry.local:5000/mirror/emqx/emqx-enterprise`).
// - The version comes from the tag: `5.8.3`, `v5.8.3`, `e5.8.3`, `5.8.3-elixir`, `5.8.3-alpine`, `6.3.0-beta.2`.
//   A two-part tag (`5.8`) means `5.8.0`. `image:tag@sha256:…` uses the tag.
// - No tag, `latest`, a bare digest or a tag without a version: the handler's `latestVersion` (default 6.0.1).
// - Edition: `emqx/emqx` ≤ 5.8 is Opensource; `emqx/emqx-enterprise` and every image ≥ 5.9 (one build since 5.9)
//   is Enterprise.

export type Edition = 'Opensource' | 'Enterprise';

export interface EmqxImageInfo {
  image: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
  /** e.g. `5.8.3`, `6.3.0-beta.2` */
  version: string;
  major: number;
  minor: number;
  patch: number;
  edition: Edition;
  otpRelease: string;
  /** True when the version was not in the tag and `latestVersion` was used. */
  versionGuessed: boolean;
}

export const DEFAULT_LATEST_VERSION = '6.0.1';

const REPO_NAMES = new Set(['emqx', 'emqx-enterprise']);

function splitImage(image: string): {
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
} {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag, digest };
}

/** True for EMQX 5.x/6.x images (community or enterprise), whatever the registry prefix. */
export function isEmqxImage(image: string): boolean {
  const { repository } = splitImage(image);
  const name = repository.split('/').pop() ?? '';
  return REPO_NAMES.has(name.toLowerCase());
}

const VERSION_RE = /^[ve]?(\d+)\.(\d+)(?:\.(\d+))?((?:-(?:alpha|beta|rc)\.\d+)?)/i;

export function parseVersion(
  v: string,
): { major: number; minor: number; patch: number; pre: string } | undefined {
  const m = VERSION_RE.exec(v);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), pre: (m[4] ?? '').slice(1) };
}

/** Compares two versions like `5.8.3` (pre-releases sort before the release). */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return a.localeCompare(b);
  if (x.major !== y.major) return x.major - y.major;
  if (x.minor !== y.minor) return x.minor - y.minor;
  if (x.patch !== y.patch) return x.patch - y.patch;
  if (x.pre === y.pre) return 0;
  if (x.pre === '') return 1;
  if (y.pre === '') return -1;
  return x.pre.localeCompare(y.pre, 'en', { numeric: true });
}

/** OTP release string as `GET /nodes` reports it, per version line (approximate outside 5.8 and 6.0). */
export function otpReleaseFor(major: number, minor: number): string {
  if (major >= 6) return '27.2-3/15.2';
  if (major === 5 && minor >= 9) return '27.2-3/15.2';
  if (major === 5 && minor === 8) return '26.2.5-3/14.2.5';
  if (major === 5 && minor >= 4) return '26.2.1-2/14.2.1';
  if (major === 5 && minor >= 1) return '25.3.2-2/13.2.2.4';
  return '24.3.4.2-3/12.3.2.2';
}

export function parseEmqxImage(image: string, latestVersion: string = DEFAULT_LATEST_VERSION): EmqxImageInfo {
  if (!isEmqxImage(image)) throw new Error(`not an EMQX image: ${image}`);
  const { repository, tag, digest } = splitImage(image);
  let version: string;
  let versionGuessed = false;
  const parsed = tag ? parseVersion(tag) : undefined;
  if (parsed) {
    version = `${parsed.major}.${parsed.minor}.${parsed.patch}${parsed.pre ? `-${parsed.pre}` : ''}`;
  } else {
    version = latestVersion;
    versionGuessed = true;
  }
  const v = parseVersion(version);
  if (!v) throw new Error(`invalid latestVersion ${latestVersion}`);
  const enterpriseRepo = (repository.split('/').pop() ?? '').toLowerCase() === 'emqx-enterprise';
  const unified = v.major > 5 || (v.major === 5 && v.minor >= 9);
  return {
    image,
    repository,
    tag,
    digest,
    version,
    major: v.major,
    minor: v.minor,
    patch: v.patch,
    edition: enterpriseRepo || unified ? 'Enterprise' : 'Opensource',
    otpRelease: otpReleaseFor(v.major, v.minor),
    versionGuessed,
  };
}

/** True from 5.9 on: one Enterprise build with the community (single-node) licence by default. */
export function hasCommunityLicense(info: Pick<EmqxImageInfo, 'major' | 'minor'>): boolean {
  return info.major > 5 || (info.major === 5 && info.minor >= 9);
}
