// TLS of an emulated node's ssl/wss listeners and https dashboard, from the files its `ssl_options` name, read
// through the container's mounts like EMQX reads them.
//
// Re-reading: EMQX (OTP's ssl PEM cache) notices a changed certfile/keyfile and uses it for new handshakes,
// without restarting the listener; established connections keep the session they negotiated. Here each listener
// polls its files (every RELOAD_POLL_MS) and swaps the server's secure context when they change, so the kubelet's
// update of a Secret volume reaches new connections within about a second. A half-written pair (the kubelet
// renames tls.crt and tls.key one after the other) fails to load and the previous context stays until both match.
import fs from 'node:fs';
import type tls from 'node:tls';
import type { HoconObject, HoconValue } from '../../src/hocon/index.ts';

export const RELOAD_POLL_MS = 1000;
const ETC_DIR = '/opt/emqx/etc';

export interface SslOptions {
  certfile: string;
  keyfile: string;
  cacertfile?: string;
  verifyPeer: boolean;
  failIfNoPeerCert: boolean;
}

function str(v: HoconValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v.replaceAll('${EMQX_ETC_DIR}', ETC_DIR) : undefined;
}

/** The file paths and verification of a listener's `ssl_options` (container paths). */
export function sslOptionsOf(ssl: HoconObject | undefined): SslOptions | undefined {
  const certfile = str(ssl?.certfile);
  const keyfile = str(ssl?.keyfile);
  if (!certfile || !keyfile) return undefined;
  const cacertfile = str(ssl?.cacertfile);
  return {
    certfile,
    keyfile,
    ...(cacertfile && { cacertfile }),
    verifyPeer: ssl?.verify === 'verify_peer',
    failIfNoPeerCert: ssl?.fail_if_no_peer_cert === true || ssl?.fail_if_no_peer_cert === 'true',
  };
}

/** Maps a container path to the host (the kubelet's mounts). */
export type HostPath = (containerPath: string) => string | undefined;

function read(hostPath: HostPath, containerPath: string): Buffer {
  const host = hostPath(containerPath);
  if (!host) throw new Error(`${containerPath}: not mounted`);
  try {
    return fs.readFileSync(host);
  } catch (e) {
    throw new Error(`${containerPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}

/** Reads the files into server options. Throws, naming the file, when one is missing. */
export function loadTls(opts: SslOptions, hostPath: HostPath): tls.SecureContextOptions & tls.TlsOptions {
  const out: tls.SecureContextOptions & tls.TlsOptions = {
    cert: read(hostPath, opts.certfile),
    key: read(hostPath, opts.keyfile),
  };
  if (opts.verifyPeer) {
    if (!opts.cacertfile) throw new Error('verify_peer without a cacertfile');
    out.ca = read(hostPath, opts.cacertfile);
    out.requestCert = true;
    // A certificate that fails verification is refused whether or not one is required (see verifyClient).
    out.rejectUnauthorized = false;
  }
  return out;
}

/** Whether a handshaken socket may stay: verify_peer refuses a bad certificate, and no certificate when required. */
export function verifyClient(opts: SslOptions, sock: tls.TLSSocket): boolean {
  if (!opts.verifyPeer) return true;
  if (sock.authorized) return true;
  const presented = Object.keys(sock.getPeerCertificate() ?? {}).length > 0;
  return !presented && !opts.failIfNoPeerCert;
}

/** Watches the files of one TLS server and swaps its secure context when they change. */
export class TlsReloader {
  readonly #opts: SslOptions;
  readonly #hostPath: HostPath;
  readonly #server: tls.Server;
  readonly #onError: (msg: string) => void;
  readonly #onReload: () => void;
  #timer: NodeJS.Timeout | undefined;
  #last: string;
  #lastError: string | undefined;

  constructor(
    opts: SslOptions,
    hostPath: HostPath,
    server: tls.Server,
    on: { error: (msg: string) => void; reload: () => void },
  ) {
    this.#opts = opts;
    this.#hostPath = hostPath;
    this.#server = server;
    this.#onError = on.error;
    this.#onReload = on.reload;
    this.#last = this.#fingerprint();
    this.#timer = setInterval(() => this.#poll(), RELOAD_POLL_MS);
    this.#timer.unref();
  }

  #fingerprint(): string {
    const parts: string[] = [];
    for (const p of [this.#opts.certfile, this.#opts.keyfile, this.#opts.cacertfile]) {
      if (!p) continue;
      const host = this.#hostPath(p);
      try {
        const st = host ? fs.statSync(host) : undefined;
        parts.push(st ? `${st.ino}:${st.mtimeMs}:${st.size}` : '-');
      } catch {
        parts.push('-');
      }
    }
    return parts.join('|');
  }

  #poll(): void {
    const now = this.#fingerprint();
    if (now === this.#last) return;
    try {
      this.#server.setSecureContext(loadTls(this.#opts, this.#hostPath));
      this.#last = now;
      this.#lastError = undefined;
      this.#onReload();
    } catch (e) {
      // Keep the previous context; try again at the next poll (the pair may be half written).
      const msg = (e as Error).message;
      if (msg !== this.#lastError) this.#onError(msg);
      this.#lastError = msg;
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
