// The EMQX REST API of an emulated node, served on its dashboard listener (pod IP, `dashboard.listeners.http.bind`).
// Shapes, codes and error bodies follow emqx-node-api.md §1–§2.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { getPath } from '../../src/hocon/index.ts';
import type { HoconObject } from '../../src/hocon/index.ts';
import { verifyApiSecret } from './bootstrap-keys.ts';
import type { ApiRole, StoredApiKey } from './bootstrap-keys.ts';
import {
  applyRoots,
  asBool,
  configJson,
  configText,
  durationMs,
  LISTENER_TYPES,
  maskSecrets,
  planConfigPut,
  rootWithDefaults,
  validateRoot,
} from './config.ts';
import type { PutMode } from './config.ts';
import type { EmqxNode } from './node.ts';
import { pendingTransitions } from './ds.ts';
import { Evacuation, needRebalance, Rebalance, splitDonors } from './rebalance.ts';
import type { JsonValue } from './store.ts';

interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** JSON value, a string (text), or undefined for an empty body */
  body?: unknown;
  text?: boolean;
}

interface Req {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  params: string[];
  role: ApiRole;
}

type Handler = (node: EmqxNode, req: Req) => Reply | Promise<Reply>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
  /** no Authorization needed */
  open?: boolean;
  /** Enterprise-only app: the route does not exist on Opensource editions */
  ee?: boolean;
}

const JSON_TYPE = 'application/json';
const MAX_BODY = 16 * 1024 * 1024;

function err(status: number, code: string, message: string): Reply {
  return { status, body: { code, message } };
}

const notFound = (message = 'Not Found'): Reply => err(404, 'NOT_FOUND', message);
const badRequest = (message: string): Reply => err(400, 'BAD_REQUEST', message);

/** Erlang `~p` of node names given as binaries / known as atoms, as the rebalance API prints them. */
const fmtBinaries = (xs: string[]): string => `[${xs.map((x) => `<<${JSON.stringify(x)}>>`).join(',')}]`;
const fmtAtoms = (xs: string[]): string => `[${xs.map((x) => `'${x}'`).join(',')}]`;

// ---------------------------------------------------------------------------------------------------------------
// status

function statusHandler(node: EmqxNode, req: Req): Reply {
  const headers = { 'retry-after': '15' };
  if (node.faults.statusFail) return { status: 503, headers };
  const running = node.status === 'running';
  const broker = node.status === 'exited' ? 'stopped' : 'started';
  const app = running ? 'running' : 'not_running';
  const status = running ? 200 : 503;
  if (req.query.get('format') === 'json') {
    const body: Record<string, string> = { node_name: node.name };
    if (node.image.major >= 6) body['cluster'] = node.clusterName;
    else body['rel_vsn'] = node.image.version;
    body['broker_status'] = broker;
    body['app_status'] = app;
    return { status, headers, body };
  }
  return { status, headers, body: `Node ${node.name} is ${broker}\nemqx is ${app}`, text: true };
}

// ---------------------------------------------------------------------------------------------------------------
// nodes, cluster

function visibleNodes(node: EmqxNode): EmqxNode[] {
  return node.runningNodes().filter((n) => n === node || !n.faults.rpcFail);
}

function clusterSessions(node: EmqxNode): number {
  return node.runningNodes().reduce((a, n) => a + n.load.sessions, 0);
}

function fmtBytes(b: number): string {
  return `${(b / 1024 ** 3).toFixed(2)}G`;
}

function nodeInfo(n: EmqxNode, sessions: number): Record<string, unknown> {
  const fileLog = asBool(getPath(n.raw, 'log.file.default.enable'), false);
  const used = 180 * 1024 ** 2 + n.load.sessions * 40 * 1024;
  return {
    node: n.name,
    node_status: 'running',
    role: n.role,
    edition: n.image.edition,
    version: n.image.version,
    otp_release: n.image.otpRelease,
    uptime: n.uptimeMs,
    connections: n.load.sessions,
    live_connections: n.load.live,
    cluster_sessions: sessions,
    load1: 0.12,
    load5: 0.1,
    load15: 0.08,
    memory_total: fmtBytes(4 * 1024 ** 3),
    memory_used: fmtBytes(used),
    max_fds: 1048576,
    process_available: Number(getPath(n.raw, 'node.process_limit') ?? 2097152),
    process_used: 400 + n.load.live * 2,
    sys_path: '/opt/emqx',
    log_path: fileLog ? '/opt/emqx/log' : 'log.file.enable is false, not logging to file.',
  };
}

function listNodes(node: EmqxNode): Reply {
  const sessions = clusterSessions(node);
  const running = visibleNodes(node).map((n) => nodeInfo(n, sessions));
  const stopped = node.stoppedCores().map((name) => ({ node: name, node_status: 'stopped', role: 'core' }));
  return { status: 200, body: [...running, ...stopped] };
}

function getNode(node: EmqxNode, req: Req): Reply {
  const name = req.params[0]!;
  const n = node.runningNodes().find((x) => x.name === name);
  if (!n) return notFound(`Node not found: ${name}`);
  if (n !== node && n.faults.rpcFail) return err(503, 'RPC_ERROR', `RPC to ${name} failed: timeout`);
  return { status: 200, body: nodeInfo(n, clusterSessions(node)) };
}

function getCluster(node: EmqxNode): Reply {
  const description = node.db.get('cluster_meta', 'description');
  return {
    status: 200,
    body: {
      name: node.clusterName,
      description: typeof description === 'string' ? description : '',
      nodes: node.runningNodes().map((n) => n.name),
      self: node.name,
    },
  };
}

function putCluster(node: EmqxNode, req: Req): Reply {
  const body = parseJsonBody(req.body);
  if (
    !isObj(body) ||
    Object.keys(body).some((k) => k !== 'description') ||
    typeof body['description'] !== 'string'
  ) {
    return badRequest('only {"description": string} can be updated');
  }
  try {
    node.dbWrite([{ table: 'cluster_meta', key: 'description', value: body['description'] }]);
  } catch (e) {
    return err(503, 'SERVICE_UNAVAILABLE', (e as Error).message);
  }
  return { status: 200, body: { description: body['description'] } };
}

function forceLeave(node: EmqxNode, req: Req): Reply {
  const r = node.forceLeave(req.params[0]!);
  if ('ok' in r) return { status: 204 };
  return badRequest(r.error);
}

// ---------------------------------------------------------------------------------------------------------------
// clients (real MQTT sessions of the cluster; counted control-API load has no client ids)

function clusterClients(node: EmqxNode): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const b of node.mqtt.clusterBrokers()) for (const s of b.sessions.values()) out.push(b.clientInfo(s));
  return out.sort((a, b) => String(a['clientid']).localeCompare(String(b['clientid'])));
}

function listClients(node: EmqxNode, req: Req): Reply {
  let rows = clusterClients(node);
  const q = req.query;
  const clientid = q.get('clientid');
  if (clientid !== null) rows = rows.filter((r) => r['clientid'] === clientid);
  const like = q.get('like_clientid');
  if (like !== null) rows = rows.filter((r) => String(r['clientid']).includes(like));
  const onNode = q.get('node');
  if (onNode !== null) rows = rows.filter((r) => r['node'] === onNode);
  const state = q.get('conn_state');
  if (state === 'connected' || state === 'disconnected') {
    rows = rows.filter((r) => r['connected'] === (state === 'connected'));
  }
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
  const limit = Math.min(10_000, Math.max(1, Number(q.get('limit') ?? 100) || 100));
  const data = rows.slice((page - 1) * limit, page * limit);
  return {
    status: 200,
    body: {
      data: data as JsonValue[],
      meta: { page, limit, count: rows.length, hasnext: page * limit < rows.length },
    },
  };
}

function getClient(node: EmqxNode, req: Req): Reply {
  const id = req.params[0]!;
  const row = clusterClients(node).find((r) => r['clientid'] === id);
  if (!row) return err(404, 'CLIENTID_NOT_FOUND', 'Client ID not found');
  return { status: 200, body: row as JsonValue };
}

// ---------------------------------------------------------------------------------------------------------------
// listeners

interface ListenerState {
  id: string;
  type: string;
  name: string;
  conf: HoconObject;
  running: boolean;
  current: number;
}

export function nodeListeners(n: EmqxNode): ListenerState[] {
  const out: ListenerState[] = [];
  const listeners = n.raw['listeners'];
  if (!isObj(listeners)) return out;
  let firstTcp = true;
  for (const type of Object.keys(listeners).sort()) {
    const instances = listeners[type];
    if (!isObj(instances)) continue;
    for (const name of Object.keys(instances).sort()) {
      const conf = instances[name];
      if (!isObj(conf)) continue;
      const enabled = asBool(conf['enable'], true);
      const running = enabled && n.status === 'running';
      // all emulated clients are attributed to the first enabled TCP listener
      let current = 0;
      if (type === 'tcp' && enabled && firstTcp) {
        current = n.load.live;
        firstTcp = false;
      }
      out.push({ id: `${type}:${name}`, type, name, conf, running, current });
    }
  }
  return out;
}

function listListeners(node: EmqxNode, req: Req): Reply {
  const type = req.query.get('type');
  if (type !== null && !(LISTENER_TYPES as readonly string[]).includes(type)) {
    return badRequest(`invalid listener type: ${type}`);
  }
  const byId = new Map<string, { first: ListenerState; per: Array<{ node: EmqxNode; l: ListenerState }> }>();
  for (const n of visibleNodes(node)) {
    for (const l of nodeListeners(n)) {
      if (type !== null && l.type !== type) continue;
      const e = byId.get(l.id);
      if (e) e.per.push({ node: n, l });
      else byId.set(l.id, { first: l, per: [{ node: n, l }] });
    }
  }
  const body = [...byId.values()].map(({ first, per }) => {
    const maxes = per.map(({ l }) => l.conf['max_connections']);
    const max = maxes.some((m) => m === 'infinity' || typeof m !== 'number')
      ? 'infinity'
      : (maxes as number[]).reduce((a, b) => a + b, 0);
    const runs = per.map(({ l }) => l.running);
    const running = runs.every((r) => r) ? true : runs.every((r) => !r) ? false : 'inconsistent';
    const nodeStatus = per.map(({ node: n, l }) => ({
      node: n.name,
      status: {
        running: l.running,
        max_connections: l.conf['max_connections'] ?? 'infinity',
        current_connections: l.current,
      },
    }));
    return {
      ...maskSecrets(first.conf),
      id: first.id,
      type: first.type,
      name: first.name,
      enable: asBool(first.conf['enable'], true),
      bind: first.conf['bind'] ?? null,
      acceptors: first.conf['acceptors'] ?? 16,
      number: per.length,
      status: {
        running,
        max_connections: max,
        current_connections: per.reduce((a, { l }) => a + l.current, 0),
      },
      node_status: nodeStatus,
    };
  });
  return { status: 200, body };
}

// ---------------------------------------------------------------------------------------------------------------
// configs

/** Picks the representation from the Accept header: text, json, or undefined (400 INVALID_ACCEPT). */
function acceptKind(accept: string | undefined): 'text' | 'json' | undefined {
  if (accept === undefined || accept.trim() === '') return 'text';
  const types = accept
    .split(',')
    .map((p) => p.split(';')[0]!.trim().toLowerCase())
    .filter((t) => t !== '');
  if (types.some((t) => t === 'text/plain' || t === '*/*' || t === 'text/*')) return 'text';
  if (types.some((t) => t === 'application/json' || t === 'application/*')) return 'json';
  return undefined;
}

function getConfigs(node: EmqxNode, req: Req): Reply {
  let target = node;
  const nodeParam = req.query.get('node');
  if (nodeParam !== null) {
    const n = node.runningNodes().find((x) => x.name === nodeParam);
    if (!n) return notFound(`Node not found: ${nodeParam}`);
    target = n;
  }
  const key = req.query.get('key') ?? undefined;
  const kind = acceptKind(req.headers['accept']);
  if (kind === undefined) return err(400, 'INVALID_ACCEPT', 'Invalid accept header');
  if (key !== undefined && !(key in target.raw)) return notFound(`Config key not found: ${key}`);
  if (kind === 'text') return { status: 200, body: configText(target.raw, key), text: true };
  return { status: 200, body: configJson(target.raw, target.facts, key) };
}

function putConfigs(node: EmqxNode, req: Req): Reply {
  const modeParam = req.query.get('mode') ?? 'merge';
  if (modeParam !== 'merge' && modeParam !== 'replace') {
    return badRequest(`mode: unable_to_convert_to_enum_symbol: ${modeParam}`);
  }
  const ir = req.query.get('ignore_readonly') ?? 'false';
  if (ir !== 'true' && ir !== 'false')
    return badRequest(`ignore_readonly: unable_to_convert_to_boolean: ${ir}`);
  const mode: PutMode = modeParam;
  const plan = planConfigPut(req.body, { mode, ignoreReadonly: ir === 'true' }, node.raw, node.facts);
  if (Object.keys(plan.accepted).length > 0) {
    for (const n of node.configTargets()) n.applyConfigRoots(plan.accepted, mode);
  }
  if (plan.status !== 200) return { status: plan.status, body: plan.body };
  return { status: 200 };
}

const JSON_CONFIG_ROOTS = ['dashboard', 'alarm', 'sys_topics', 'sysmon', 'log', 'broker', 'file_transfer'];

function getConfigRoot(node: EmqxNode, req: Req): Reply {
  const root = req.params[0]!;
  if (!JSON_CONFIG_ROOTS.includes(root) || !(root in node.raw))
    return notFound(`Config key not found: ${root}`);
  return { status: 200, body: maskSecrets({ [root]: node.raw[root]! })[root] };
}

function putConfigRoot(node: EmqxNode, req: Req): Reply {
  const root = req.params[0]!;
  if (!JSON_CONFIG_ROOTS.includes(root) || !(root in node.raw))
    return notFound(`Config key not found: ${root}`);
  const body = parseJsonBody(req.body);
  if (!isObj(body)) return err(400, 'UPDATE_FAILED', 'the body must be a JSON object');
  const value = rootWithDefaults(root, body as HoconObject, node.facts);
  const verr = validateRoot(root, value);
  if (verr) return err(400, 'UPDATE_FAILED', JSON.stringify(verr));
  for (const n of node.configTargets()) n.applyConfigRoots({ [root]: body as HoconObject }, 'replace');
  return {
    status: 200,
    body: maskSecrets({
      [root]: applyRoots({}, { [root]: body as HoconObject }, 'replace', node.facts)[root]!,
    })[root],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// load_rebalance

function availabilityCheck(node: EmqxNode): Reply {
  if (node.evictionAgentOn()) return err(503, 'NODE_EVACUATING', 'Node Evacuating');
  return { status: 200, body: {} };
}

function targetNode(node: EmqxNode, name: string): EmqxNode | Reply {
  const n = node.runningNodes().find((x) => x.name === name);
  if (!n) return notFound(`Node not found: ${name}`);
  if (n !== node && n.faults.rpcFail) return err(503, 'RPC_ERROR', `RPC to ${name} failed: timeout`);
  return n;
}

function validateNodeList(node: EmqxNode, v: unknown, field: string): string[] | Reply {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    return badRequest(`${field}: must be a list of node names`);
  const names = v as string[];
  const invalid = names.filter((n) => !node.fabric.everSeen.has(n));
  if (invalid.length > 0) return badRequest(`Invalid nodes: ${fmtBinaries(invalid)}`);
  const running = new Map(node.runningNodes().map((n) => [n.name, n]));
  const unavailable = names.filter((n) => {
    const x = running.get(n);
    return !x || x.evacuation !== undefined || (x !== node && x.faults.rpcFail);
  });
  if (unavailable.length > 0) return err(400, 'NOT_FOUND', `Nodes unavailable: ${fmtAtoms(unavailable)}`);
  return names;
}

function posInt(body: Record<string, unknown>, key: string, dflt: number): number | string {
  const v = body[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return `${key}: must be an integer >= 1`;
  return v;
}

function seconds(body: Record<string, unknown>, key: string, dflt: number): number | string {
  const v = body[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const ms = durationMs(v, NaN);
    if (Number.isFinite(ms) && ms >= 0 && /[a-z]$/i.test(v.trim())) return Math.ceil(ms / 1000);
  }
  return `${key}: must be a duration, e.g. 60 or "60s"`;
}

function nonNeg(body: Record<string, unknown>, key: string, dflt: number): number | string {
  const v = body[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number' && v >= 0) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) >= 0)
    return Number(v);
  return `${key}: must be a number >= 0`;
}

function stateErr(name: string, reason: string): Reply {
  return badRequest(`error on node '${name}': ${reason}`);
}

function bodyObject(req: Req): { ok: Record<string, unknown> } | { reply: Reply } {
  if (req.body.trim() === '') return { ok: {} };
  const body = parseJsonBody(req.body);
  if (!isObj(body)) return { reply: badRequest('the request body must be a JSON object') };
  return { ok: body };
}

function evacuationStart(node: EmqxNode, req: Req): Reply {
  const t = targetNode(node, req.params[0]!);
  if (!('name' in t)) return t;
  const parsed = bodyObject(req);
  if ('reply' in parsed) return parsed.reply;
  const b = parsed.ok;
  const conn = posInt(b, 'conn_evict_rate', 500);
  const sess = posInt(b, 'sess_evict_rate', 500);
  const whc = seconds(b, 'wait_health_check', 60);
  const wt = seconds(b, 'wait_takeover', 60);
  for (const v of [conn, sess, whc, wt]) if (typeof v === 'string') return badRequest(v);
  if (b['redirect_to'] !== undefined && typeof b['redirect_to'] !== 'string')
    return badRequest('redirect_to: must be a string');
  let migrateTo: string[];
  if (b['migrate_to'] !== undefined) {
    const v = validateNodeList(node, b['migrate_to'], 'migrate_to');
    if (!Array.isArray(v)) return v;
    migrateTo = v;
  } else {
    migrateTo = node
      .runningNodes()
      .filter((n) => n !== t)
      .map((n) => n.name);
  }
  if (t.evacuation) return stateErr(t.name, 'already_started');
  if (t.donorOf !== undefined || t.rebalance) return stateErr(t.name, 'eviction_agent_busy');
  t.startEvacuation(
    new Evacuation(t, {
      connEvictRate: conn as number,
      sessEvictRate: sess as number,
      waitHealthCheck: whc as number,
      waitTakeover: wt as number,
      migrateTo,
      ...(typeof b['redirect_to'] === 'string' ? { redirectTo: b['redirect_to'] } : {}),
    }),
  );
  return { status: 200, body: {} };
}

function evacuationStop(node: EmqxNode, req: Req): Reply {
  const t = targetNode(node, req.params[0]!);
  if (!('name' in t)) return t;
  if (!t.evacuation) return stateErr(t.name, 'not_started');
  t.stopEvacuation();
  return { status: 200, body: {} };
}

function rebalanceStart(node: EmqxNode, req: Req): Reply {
  const t = targetNode(node, req.params[0]!);
  if (!('name' in t)) return t;
  const parsed = bodyObject(req);
  if ('reply' in parsed) return parsed.reply;
  const b = parsed.ok;
  const vals = {
    conn: posInt(b, 'conn_evict_rate', 500),
    sess: posInt(b, 'sess_evict_rate', 500),
    whc: seconds(b, 'wait_health_check', 60),
    wt: seconds(b, 'wait_takeover', 60),
    absConn: nonNeg(b, 'abs_conn_threshold', 1000),
    relConn: nonNeg(b, 'rel_conn_threshold', 1.1),
    absSess: nonNeg(b, 'abs_sess_threshold', 1000),
    relSess: nonNeg(b, 'rel_sess_threshold', 1.1),
  };
  for (const v of Object.values(vals)) if (typeof v === 'string') return badRequest(v);
  let nodes: string[];
  if (b['nodes'] !== undefined) {
    const v = validateNodeList(node, b['nodes'], 'nodes');
    if (!Array.isArray(v)) return v;
    nodes = v;
  } else {
    nodes = node.runningNodes().map((n) => n.name);
  }
  if (t.rebalance) return stateErr(t.name, 'already_started');
  const running = new Map(node.runningNodes().map((n) => [n.name, n]));
  if (nodes.some((n) => running.get(n)?.evictionAgentOn())) return stateErr(t.name, 'eviction_agent_busy');
  const counts = new Map(nodes.map((n) => [n, running.get(n)?.load.live ?? 0]));
  const { donors, recipients } = splitDonors(counts);
  const dc = donors.map((d) => counts.get(d)!);
  const rc = recipients.map((r) => counts.get(r)!);
  if (!needRebalance(dc, rc, vals.absConn as number, vals.relConn as number)) {
    return stateErr(t.name, 'nothing_to_balance');
  }
  t.startRebalance(
    new Rebalance(t, nodes, donors, recipients, {
      connEvictRate: vals.conn as number,
      sessEvictRate: vals.sess as number,
      waitHealthCheck: vals.whc as number,
      waitTakeover: vals.wt as number,
      absConnThreshold: vals.absConn as number,
      relConnThreshold: vals.relConn as number,
      absSessThreshold: vals.absSess as number,
      relSessThreshold: vals.relSess as number,
    }),
  );
  return { status: 200, body: {} };
}

function rebalanceStop(node: EmqxNode, req: Req): Reply {
  const t = targetNode(node, req.params[0]!);
  if (!('name' in t)) return t;
  if (!t.rebalance) return stateErr(t.name, 'not_started');
  t.endRebalance('stopped');
  return { status: 200, body: {} };
}

function globalStatus(node: EmqxNode): Reply {
  const nodes = visibleNodes(node);
  return {
    status: 200,
    body: {
      evacuations: nodes.filter((n) => n.evacuation).map((n) => n.evacuation!.status()),
      rebalances: nodes.filter((n) => n.rebalance).map((n) => n.rebalance!.status()),
      purges: [],
    },
  };
}

function localStatus(node: EmqxNode): Reply {
  if (node.evacuation) {
    const { node: _n, ...rest } = node.evacuation.status();
    return { status: 200, body: { status: 'enabled', process: 'evacuation', ...rest } };
  }
  if (node.rebalance) {
    const { node: _n, ...rest } = node.rebalance.status();
    return { status: 200, body: { status: 'enabled', process: 'rebalance', ...rest } };
  }
  return { status: 200, body: { status: 'disabled' } };
}

// ---------------------------------------------------------------------------------------------------------------
// monitor, ds, api keys, login

function monitorValues(nodes: EmqxNode[], node: EmqxNode): Record<string, unknown> {
  const sessions = nodes.reduce((a, n) => a + n.load.sessions, 0);
  const live = nodes.reduce((a, n) => a + n.load.live, 0);
  const out: Record<string, unknown> = {
    connections: sessions,
    live_connections: live,
    cluster_sessions: clusterSessions(node),
    topics: 0,
    subscriptions: 0,
    shared_subscriptions: 0,
    subscriptions_durable: 0,
    disconnected_durable_sessions: 0,
    retained_msg_count: node.db.size('retained'),
    received_msg_rate: 0,
    sent_msg_rate: 0,
    dropped_msg_rate: 0,
    transformation_succeeded_rate: 0,
    transformation_failed_rate: 0,
    validation_succeeded_rate: 0,
    validation_failed_rate: 0,
    sessions_hist_hwmark: { peak_time: node.runningSince, peak_value: sessions, current_value: sessions },
  };
  if (node.image.edition === 'Enterprise')
    out['license_quota'] = node.licenseAllowsClustering() ? 10000000 : 10000;
  return out;
}

function monitorCurrent(node: EmqxNode): Reply {
  return { status: 200, body: monitorValues(visibleNodes(node), node) };
}

function monitorCurrentNode(node: EmqxNode, req: Req): Reply {
  const t = targetNode(node, req.params[0]!);
  if (!('name' in t)) return t;
  return { status: 200, body: { ...monitorValues([t], node), node_uptime: t.uptimeMs } };
}

// Durable storage (emqx_mgmt_api_ds): 404 while disabled; unknown DB 404 `DB 'x' does not exist`; replica set
// changes answer 202 and run as shard transitions (ds.ts).
function dsHandler(node: EmqxNode, req: Req): Reply {
  const ds = node.ds;
  if (!ds.enabled) return notFound('Durable storage is disabled');
  const rest = req.path.slice('/api/v5/ds/'.length).split('/').map(decodeURIComponent);
  const [kind, id, sub, site] = rest;
  if (kind === 'sites' && req.method === 'GET') {
    if (id === undefined) return { status: 200, body: ds.clusterSites() };
    if (rest.length !== 2) return notFound();
    if (!ds.clusterSites().includes(id)) return notFound(`Site not found: ${id}`);
    const shards: Array<Record<string, string>> = [];
    for (const db of ds.dbs()) {
      for (const { id: shard, rec } of ds.shards(db)) {
        const plan = pendingTransitions(rec);
        const t = plan.find((p) => p.site === id);
        const transition = t ? (t.op === 'add' ? 'joining' : 'leaving') : undefined;
        if (rec.replicas.includes(id)) {
          shards.push({
            storage: db,
            id: shard,
            status: ds.replicaStatus(id),
            ...(transition ? { transition } : {}),
          });
        } else if (transition === 'joining') {
          shards.push({ storage: db, id: shard, transition });
        }
      }
    }
    const name = ds.siteNode(id) ?? '';
    return {
      status: 200,
      body: { node: name, up: ds.replicaStatus(id) !== 'lost' && isRunning(node, name), shards },
    };
  }
  if (kind !== 'storages') return notFound();
  if (id === undefined) {
    if (req.method !== 'GET') return err(405, 'METHOD_NOT_ALLOWED', `Method ${req.method} not allowed`);
    return { status: 200, body: ds.dbs() };
  }
  if (!ds.dbs().includes(id)) return notFound(`DB '${id}' does not exist`);
  if (sub === undefined && req.method === 'GET') {
    const shards = ds.shards(id).map(({ id: shard, rec }) => {
      const out: Record<string, JsonValue> = {
        id: shard,
        replicas: rec.replicas.map((s) => ({ site: s, status: ds.replicaStatus(s) })),
      };
      const plan = pendingTransitions(rec);
      if (plan.length > 0) {
        out['transitions'] = plan.map((p) => ({
          site: p.site,
          transition: p.op === 'add' ? 'joining' : 'leaving',
        }));
      }
      return out;
    });
    return { status: 200, body: { name: id, shards } };
  }
  if (sub !== 'replicas' || rest.length > 4) return notFound();
  if (site === undefined) {
    if (req.method === 'GET') return { status: 200, body: ds.replicaSites(id) };
    if (req.method !== 'PUT') return err(405, 'METHOD_NOT_ALLOWED', `Method ${req.method} not allowed`);
    const r = ds.assignSites(id, parseJsonBody(req.body));
    return 'ok' in r ? { status: 202, body: 'OK', text: true } : badRequest(r.error);
  }
  const current = ds.targetSites(id);
  if (req.method === 'PUT') {
    if (current.includes(site)) return { status: 202, body: 'OK', text: true };
    const r = ds.assignSites(id, [...current, site]);
    return 'ok' in r ? { status: 202, body: 'OK', text: true } : badRequest(r.error);
  }
  if (req.method === 'DELETE') {
    if (!current.includes(site)) return notFound('Site is not part of replica set');
    const r = ds.assignSites(
      id,
      current.filter((s) => s !== site),
    );
    return 'ok' in r ? { status: 202, body: 'OK', text: true } : badRequest(r.error);
  }
  return err(405, 'METHOD_NOT_ALLOWED', `Method ${req.method} not allowed`);
}

function isRunning(node: EmqxNode, name: string): boolean {
  return node.runningNodes().some((n) => n.name === name);
}

function listApiKeys(node: EmqxNode): Reply {
  const body = node.apiKeys().map((k) => ({
    name: k.name,
    api_key: k.api_key,
    expired_at: k.expired_at,
    desc: k.desc,
    enable: k.enable,
    expired: false,
    created_at: new Date(k.created_at).toISOString(),
    role: k.role,
  }));
  return { status: 200, body };
}

function login(node: EmqxNode, req: Req): Reply {
  const body = parseJsonBody(req.body);
  if (!isObj(body) || typeof body['username'] !== 'string' || typeof body['password'] !== 'string') {
    return badRequest('username and password are required');
  }
  const user = node.db.get('dashboard_users', body['username']) as unknown as StoredApiKey | undefined;
  if (!user || !verifyApiSecret(user, body['password']))
    return err(401, 'BAD_USERNAME_OR_PWD', 'Auth failed');
  const token = randomBytes(24).toString('base64url');
  const ttl = durationMs(getPath(node.raw, 'dashboard.token_expired_time'), 3_600_000);
  try {
    node.dbWrite([
      {
        table: 'dashboard_tokens',
        key: token,
        value: { username: body['username'], role: user.role, expires_at: node.clock.now() + ttl },
      },
    ]);
  } catch (e) {
    return err(503, 'SERVICE_UNAVAILABLE', (e as Error).message);
  }
  return {
    status: 200,
    body: {
      token,
      version: node.image.version,
      license: { edition: node.image.edition === 'Enterprise' ? 'ee' : 'opensource' },
      role: user.role,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// routing

const SEG = '([^/]+)';
const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/status$/, handler: statusHandler, open: true },
  { method: 'GET', pattern: /^\/api\/v5\/status$/, handler: statusHandler, open: true },
  { method: 'POST', pattern: /^\/api\/v5\/login$/, handler: login, open: true },
  { method: 'GET', pattern: /^\/api\/v5\/nodes$/, handler: listNodes },
  { method: 'GET', pattern: new RegExp(`^/api/v5/nodes/${SEG}$`), handler: getNode },
  { method: 'GET', pattern: /^\/api\/v5\/cluster$/, handler: getCluster },
  { method: 'PUT', pattern: /^\/api\/v5\/cluster$/, handler: putCluster },
  { method: 'DELETE', pattern: new RegExp(`^/api/v5/cluster/${SEG}/force_leave$`), handler: forceLeave },
  { method: 'GET', pattern: /^\/api\/v5\/clients$/, handler: listClients },
  { method: 'GET', pattern: new RegExp(`^/api/v5/clients/${SEG}$`), handler: getClient },
  { method: 'GET', pattern: /^\/api\/v5\/listeners$/, handler: listListeners },
  { method: 'GET', pattern: /^\/api\/v5\/configs$/, handler: getConfigs },
  { method: 'PUT', pattern: /^\/api\/v5\/configs$/, handler: putConfigs },
  { method: 'GET', pattern: new RegExp(`^/api/v5/configs/${SEG}$`), handler: getConfigRoot },
  { method: 'PUT', pattern: new RegExp(`^/api/v5/configs/${SEG}$`), handler: putConfigRoot },
  {
    method: 'GET',
    pattern: /^\/api\/v5\/load_rebalance\/availability_check$/,
    handler: availabilityCheck,
    open: true,
    ee: true,
  },
  { method: 'GET', pattern: /^\/api\/v5\/load_rebalance\/global_status$/, handler: globalStatus, ee: true },
  { method: 'GET', pattern: /^\/api\/v5\/load_rebalance\/status$/, handler: localStatus, ee: true },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/v5/load_rebalance/${SEG}/evacuation/start$`),
    handler: evacuationStart,
    ee: true,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/v5/load_rebalance/${SEG}/evacuation/stop$`),
    handler: evacuationStop,
    ee: true,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/v5/load_rebalance/${SEG}/start$`),
    handler: rebalanceStart,
    ee: true,
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/api/v5/load_rebalance/${SEG}/stop$`),
    handler: rebalanceStop,
    ee: true,
  },
  { method: 'GET', pattern: /^\/api\/v5\/monitor_current$/, handler: monitorCurrent },
  {
    method: 'GET',
    pattern: new RegExp(`^/api/v5/monitor_current/nodes/${SEG}$`),
    handler: monitorCurrentNode,
  },
  { method: 'GET', pattern: /^\/api\/v5\/api_key$/, handler: listApiKeys },
  { method: 'GET', pattern: /^\/api\/v5\/ds\/.*$/, handler: dsHandler, ee: true },
  { method: 'PUT', pattern: /^\/api\/v5\/ds\/.*$/, handler: dsHandler, ee: true },
  { method: 'DELETE', pattern: /^\/api\/v5\/ds\/.*$/, handler: dsHandler, ee: true },
];

function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObj(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type AuthResult = { role: ApiRole } | Reply;

function authenticate(node: EmqxNode, header: string | undefined): AuthResult {
  const noHeader: Reply = {
    ...err(401, 'AUTHORIZATION_HEADER_ERROR', 'Support authorization: basic/bearer '),
    headers: { 'www-authenticate': 'Basic Realm="emqx-dashboard"' },
  };
  if (!header) return noHeader;
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const cred = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(cred, 'base64').toString('utf8');
    const c = decoded.indexOf(':');
    if (c < 0) return err(401, 'BAD_API_KEY_OR_SECRET', 'Check api_key/api_secret');
    const key = decoded.slice(0, c);
    const secret = decoded.slice(c + 1);
    const stored = node.apiKeys().find((k) => k.api_key === key);
    if (!stored || !stored.enable || !verifyApiSecret(stored, secret)) {
      return err(401, 'BAD_API_KEY_OR_SECRET', 'Check api_key/api_secret');
    }
    return { role: stored.role };
  }
  if (scheme === 'bearer') {
    const t = node.db.get('dashboard_tokens', cred);
    if (!isObj(t) || typeof t['expires_at'] !== 'number' || t['expires_at'] < node.clock.now()) {
      return err(401, 'TOKEN_TIME_OUT', 'Token expired, get new token by POST /login');
    }
    return { role: (t['role'] as ApiRole) ?? 'administrator' };
  }
  return noHeader;
}

/** EE role check (emqx_dashboard_rbac): viewers read, publishers publish. CE has no roles. */
function authorize(node: EmqxNode, role: ApiRole, method: string, path: string): Reply | undefined {
  if (node.image.edition !== 'Enterprise' || role === 'administrator') return undefined;
  if (role === 'viewer' && method === 'GET') return undefined;
  if (role === 'publisher' && method === 'POST' && /^\/api\/v5\/publish(\/bulk)?$/.test(path))
    return undefined;
  return err(403, 'UNAUTHORIZED_ROLE', 'You don\u2019t have permission to access this resource');
}

async function dispatch(node: EmqxNode, req: Omit<Req, 'params' | 'role'>): Promise<Reply> {
  const isStatus = req.path === '/status' || req.path === '/api/v5/status';
  if (!isStatus && req.path.startsWith('/api/v5/')) {
    const f = node.faults.api;
    if (f?.delayMs) await node.clock.sleep(f.delayMs);
    if (f?.status) {
      return err(f.status, f.status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR', 'emulated API fault');
    }
  }
  const ee = node.image.edition === 'Enterprise';
  const candidates = ROUTES.filter((r) => (!r.ee || ee) && r.pattern.test(req.path));
  if (candidates.length === 0) return notFound();
  const route = candidates.find((r) => r.method === req.method);
  if (!route) return err(405, 'METHOD_NOT_ALLOWED', `Method ${req.method} not allowed`);
  const params = (route.pattern.exec(req.path) ?? []).slice(1).map((p) => decodeURIComponent(p));
  let role: ApiRole = 'administrator';
  if (!route.open) {
    if (node.status !== 'running') return err(503, 'SERVICE_UNAVAILABLE', 'emqx is not running');
    const a = authenticate(node, req.headers['authorization']);
    if ('status' in a) return a;
    role = a.role;
    const denied = authorize(node, role, req.method, req.path);
    if (denied) return denied;
  } else if (!isStatus && node.status !== 'running') {
    return err(503, 'SERVICE_UNAVAILABLE', 'emqx is not running');
  }
  return route.handler(node, { ...req, params, role });
}

export function createApiServer(node: EmqxNode): http.Server {
  const server = http.createServer(apiRequestListener(node));
  server.keepAliveTimeout = 5000;
  return server;
}

/** The REST API as a request listener, for the http and the https dashboard listener alike. */
export function apiRequestListener(node: EmqxNode): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://emqx');
      const send = (r: Reply): void => {
        const headers: Record<string, string> = { ...r.headers };
        let payload = '';
        if (r.body !== undefined) {
          if (r.text) {
            headers['content-type'] = 'text/plain';
            payload = String(r.body);
          } else {
            headers['content-type'] = JSON_TYPE;
            payload = JSON.stringify(r.body);
          }
        }
        headers['content-length'] = String(Buffer.byteLength(payload));
        res.writeHead(r.status, headers);
        res.end(payload);
      };
      if (tooBig) return send(err(413, 'PAYLOAD_TOO_LARGE', 'request body too large'));
      dispatch(node, {
        method: (req.method ?? 'GET').toUpperCase(),
        path: url.pathname.replace(/\/+$/, '') || '/',
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      })
        .then(send)
        .catch((e: unknown) => {
          node.log('error', `API handler failed: ${(e as Error).message}`);
          send(err(500, 'INTERNAL_ERROR', 'internal error'));
        });
    });
  };
}
