// The MQTT side of an emulated EMQX node: tcp and ws listeners on the pod IP (MQTT 3.1, 3.1.1 and 5.0 through
// mqtt-packet, WebSocket through ws), sessions, QoS 1/2 flows, and EMQX's cluster behaviour through the fabric:
// a message published on any node reaches the matching subscribers on every running node of the same cluster;
// retained messages live in the replicated `retained` table; shared subscriptions pick one member cluster-wide;
// a CONNECT with a client id known anywhere in the cluster takes the session over (the old MQTT 5 connection
// gets DISCONNECT 0x8E). The eviction agent (evacuation, rebalance) disconnects clients with 0x9C and moves
// disconnected sessions to other nodes. Authentication is anonymous (EMQX's default with no authenticator).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import type { IConnectPacket, IPublishPacket, ISubscribePacket, Packet, QoS } from 'mqtt-packet';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { getPath } from '../../src/hocon/index.ts';
import type { HoconObject, HoconValue } from '../../src/hocon/index.ts';
import { asBool, bindPort, durationMs } from './config.ts';
import type { TimerHandle } from './clock.ts';
import type { EmqxNode } from './node.ts';
import type { JsonValue } from './store.ts';
import { DS_SESSIONS } from './ds.ts';
import type { StoredSession } from './ds.ts';
import { parseShare, topicMatches, validFilter, validTopic } from './topic.ts';
import { loadTls, sslOptionsOf, TlsReloader, verifyClient, type SslOptions } from './tls.ts';

/** MQTT 5 reason codes the emulator sends. */
export const RC = {
  success: 0x00,
  normal: 0x00,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  clientIdNotValid: 0x85,
  serverUnavailable: 0x88,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  noSubscriptionExisted: 0x11,
  useAnotherServer: 0x9c,
} as const;

export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: IPublishPacket['properties'];
  /** Client id of the publisher (for no-local). */
  from?: string;
}

interface Subscription {
  qos: QoS;
  nl: boolean;
  rap: boolean;
  rh: number;
  share: { group: string; filter: string } | undefined;
  subscriptionIdentifier?: number;
}

interface Inflight {
  msg: Message;
  qos: QoS;
  /** QoS 2: PUBREC received, PUBREL sent. */
  released: boolean;
}

/** Where a persistent session's state lives: it moves between nodes on takeover and session eviction. */
export class Session {
  readonly clientId: string;
  owner: NodeMqtt;
  conn: Connection | undefined;
  /** Seconds; 0 = the session ends with the connection. */
  expiryInterval: number;
  protocolVersion: number;
  cleanStart: boolean;
  readonly subs = new Map<string, Subscription>();
  readonly queue: Array<{ msg: Message; qos: QoS }> = [];
  readonly inflight = new Map<number, Inflight>();
  /** Inbound QoS 2 packet ids awaiting PUBREL. */
  readonly awaitingRel = new Set<number>();
  #nextId = 1;
  expiryTimer: TimerHandle | undefined;
  /** Messages dropped because the queue was full. */
  dropped = 0;
  readonly createdAt: number;
  disconnectedAt: number | undefined;

  constructor(clientId: string, owner: NodeMqtt, expiryInterval: number, protocolVersion: number) {
    this.clientId = clientId;
    this.owner = owner;
    this.expiryInterval = expiryInterval;
    this.protocolVersion = protocolVersion;
    this.cleanStart = true;
    this.createdAt = Date.now();
  }

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  nextPacketId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = this.#nextId >= 65535 ? 1 : this.#nextId + 1;
      if (!this.inflight.has(id)) return id;
    }
    throw new Error('no free packet id');
  }

  /** Delivers (or queues) one message at `qos`. */
  deliver(msg: Message, qos: QoS, retainFlag: boolean, subId: number | undefined): void {
    const out: Message = { ...msg, retain: retainFlag };
    if (subId !== undefined) out.properties = { ...msg.properties, subscriptionIdentifier: subId };
    const conn = this.conn;
    if (conn && (qos === 0 || this.inflight.size < this.owner.maxInflight)) {
      conn.sendMessage(this, out, qos);
      return;
    }
    if (!conn && !this.persistent) return;
    if (this.queue.length >= this.owner.maxQueueLen) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push({ msg: out, qos });
  }

  /** Sends queued messages while the inflight window has room. */
  drain(): void {
    const conn = this.conn;
    if (!conn) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.qos > 0 && this.inflight.size >= this.owner.maxInflight) return;
      this.queue.shift();
      conn.sendMessage(this, head.msg, head.qos);
    }
  }

  /** After a reconnect with session present: retransmit unacknowledged messages, then the queue. */
  resume(): void {
    const conn = this.conn;
    if (!conn) return;
    for (const [id, f] of [...this.inflight]) {
      if (f.released) conn.send({ cmd: 'pubrel', messageId: id });
      else conn.sendPublish(f.msg, f.qos, id, true);
    }
    this.drain();
  }
}

/** One client connection (TCP or WebSocket stream). */
export class Connection {
  readonly node: NodeMqtt;
  readonly stream: Duplex;
  readonly transport: 'tcp' | 'ws';
  readonly listenerId: string;
  readonly peer: { address: string; port: number };
  protocolVersion = 4;
  session: Session | undefined;
  clientId = '';
  keepalive = 0;
  connectedAt = 0;
  #parser = mqttPacket.parser({ protocolVersion: 4 });
  #closed = false;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #lastSeen = Date.now();
  #aliases = new Map<number, string>();
  /** Set when the broker ends the connection itself (eviction, takeover, shutdown): no will message. */
  #quiet = false;
  #will: Message | undefined;

  constructor(
    node: NodeMqtt,
    stream: Duplex,
    transport: 'tcp' | 'ws',
    listenerId: string,
    peer: Connection['peer'],
  ) {
    this.node = node;
    this.stream = stream;
    this.transport = transport;
    this.listenerId = listenerId;
    this.peer = peer;
    this.#parser.on('packet', (p: Packet) => this.#onPacket(p));
    this.#parser.on('error', () => this.close(RC.malformed));
    stream.on('data', (d: Buffer) => {
      this.#lastSeen = Date.now();
      this.#parser.parse(d);
    });
    stream.on('error', () => this.#onGone());
    stream.on('close', () => this.#onGone());
    stream.on('end', () => this.#onGone());
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(packet: Packet): void {
    if (this.#closed) return;
    try {
      this.stream.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }));
    } catch (e) {
      this.node.node.log(
        'warning',
        `mqtt: cannot encode ${packet.cmd} for ${this.clientId}: ${(e as Error).message}`,
      );
    }
  }

  sendPublish(msg: Message, qos: QoS, messageId: number | undefined, dup: boolean): void {
    const p: IPublishPacket = {
      cmd: 'publish',
      topic: msg.topic,
      payload: msg.payload,
      qos,
      retain: msg.retain,
      dup,
      ...(messageId === undefined ? {} : { messageId }),
    };
    if (this.protocolVersion === 5 && msg.properties) {
      const { topicAlias: _alias, ...props } = msg.properties;
      p.properties = props;
    }
    this.send(p);
  }

  sendMessage(session: Session, msg: Message, qos: QoS): void {
    if (qos === 0) {
      this.sendPublish(msg, 0, undefined, false);
      return;
    }
    const id = session.nextPacketId();
    session.inflight.set(id, { msg, qos, released: false });
    this.sendPublish(msg, qos, id, false);
  }

  /** Ends the connection from the broker side: MQTT 5 clients get DISCONNECT with `reasonCode` first. */
  close(reasonCode?: number, properties?: Record<string, unknown>): void {
    if (this.#closed) return;
    this.#quiet = true;
    if (reasonCode !== undefined && this.protocolVersion === 5 && this.connectedAt > 0) {
      this.send({ cmd: 'disconnect', reasonCode, ...(properties ? { properties } : {}) } as Packet);
    }
    this.stream.end();
    // a peer that does not close its side is cut shortly after
    setTimeout(() => this.stream.destroy(), 200).unref();
    this.#onGone();
  }

  #onGone(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepaliveTimer);
    this.node.connections.delete(this);
    const s = this.session;
    this.session = undefined;
    if (s && s.conn === this) {
      s.conn = undefined;
      this.node.detach(s);
    }
    if (this.#will && !this.#quiet) this.node.publish(this.#will);
    if (!this.stream.destroyed) this.stream.destroy();
  }

  #onPacket(p: Packet): void {
    if (this.#closed) return;
    if (p.cmd !== 'connect' && !this.session) {
      this.close();
      return;
    }
    switch (p.cmd) {
      case 'connect':
        this.#onConnect(p);
        return;
      case 'publish':
        this.#onPublish(p);
        return;
      case 'puback': {
        const s = this.session!;
        if (s.inflight.get(p.messageId!)?.qos === 1) s.inflight.delete(p.messageId!);
        s.drain();
        return;
      }
      case 'pubrec': {
        const s = this.session!;
        const f = s.inflight.get(p.messageId!);
        if (f && f.qos === 2) f.released = true;
        this.send({ cmd: 'pubrel', messageId: p.messageId! });
        return;
      }
      case 'pubcomp': {
        const s = this.session!;
        s.inflight.delete(p.messageId!);
        s.drain();
        return;
      }
      case 'pubrel':
        this.session!.awaitingRel.delete(p.messageId!);
        this.send({ cmd: 'pubcomp', messageId: p.messageId! });
        return;
      case 'subscribe':
        this.#onSubscribe(p);
        return;
      case 'unsubscribe': {
        const s = this.session!;
        const codes = p.unsubscriptions.map((f) =>
          s.subs.delete(f) ? RC.success : RC.noSubscriptionExisted,
        );
        this.send({
          cmd: 'unsuback',
          messageId: p.messageId!,
          ...(this.protocolVersion === 5 ? { reasonCode: codes } : {}),
        } as Packet);
        return;
      }
      case 'pingreq':
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect': {
        const s = this.session;
        const expiry = p.properties?.sessionExpiryInterval;
        if (s && expiry !== undefined && this.protocolVersion === 5) s.expiryInterval = expiry;
        // a normal DISCONNECT discards the will; 0x04 asks for it to be published
        if (p.reasonCode !== 0x04) this.#will = undefined;
        this.#quiet = p.reasonCode !== 0x04;
        this.stream.end();
        this.#onGone();
        return;
      }
      default:
        return;
    }
  }

  #onConnect(p: IConnectPacket): void {
    if (this.session) {
      this.close(RC.protocolError);
      return;
    }
    const version = p.protocolVersion ?? 4;
    this.protocolVersion = version;
    (this.#parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = version;
    const v5 = version === 5;
    const node = this.node;
    const refuse = (rc5: number, rc3: number, properties?: Record<string, unknown>): void => {
      this.send(
        (v5
          ? { cmd: 'connack', sessionPresent: false, reasonCode: rc5, ...(properties ? { properties } : {}) }
          : { cmd: 'connack', sessionPresent: false, returnCode: rc3 }) as Packet,
      );
      this.#quiet = true;
      this.stream.end();
      setTimeout(() => this.stream.destroy(), 200).unref();
      this.#onGone();
    };
    const gate = node.admission();
    if (gate) {
      refuse(
        gate.reasonCode,
        3,
        gate.serverReference ? { serverReference: gate.serverReference } : undefined,
      );
      return;
    }
    let clientId = p.clientId ?? '';
    let assigned = false;
    const cleanStart = p.clean !== false;
    if (clientId === '') {
      if (!v5 && !cleanStart) {
        refuse(RC.clientIdNotValid, 2);
        return;
      }
      clientId = `emqx-emulator-${Math.random().toString(16).slice(2, 14)}`;
      assigned = true;
    }
    if (
      !cleanStart &&
      !node.findSession(clientId) &&
      node.node.dbRead(DS_SESSIONS, clientId) !== undefined &&
      !node.node.ds.sessionReadable(clientId)
    ) {
      // durable sessions: no replica of the shard holding this client's session is up
      refuse(RC.serverUnavailable, 3);
      return;
    }
    const expiry = v5
      ? (p.properties?.sessionExpiryInterval ?? 0)
      : cleanStart
        ? 0
        : Math.floor(node.defaultSessionExpiryMs() / 1000);
    this.clientId = clientId;
    this.keepalive = p.keepalive ?? 0;
    if (p.will) {
      this.#will = {
        topic: p.will.topic,
        payload: Buffer.isBuffer(p.will.payload) ? p.will.payload : Buffer.from(String(p.will.payload)),
        qos: (p.will.qos ?? 0) as QoS,
        retain: p.will.retain ?? false,
        from: clientId,
      };
    }
    const { session, present } = node.openSession(this, clientId, cleanStart, expiry, version);
    this.session = session;
    this.connectedAt = Date.now();
    const props: Record<string, unknown> = {};
    if (assigned && v5) props['assignedClientIdentifier'] = clientId;
    this.send(
      (v5
        ? {
            cmd: 'connack',
            sessionPresent: present,
            reasonCode: RC.success,
            ...(Object.keys(props).length ? { properties: props } : {}),
          }
        : { cmd: 'connack', sessionPresent: present, returnCode: 0 }) as Packet,
    );
    if (this.keepalive > 0) {
      const limitMs = this.keepalive * 1500;
      this.#keepaliveTimer = setInterval(
        () => {
          if (Date.now() - this.#lastSeen > limitMs) this.close(RC.keepAliveTimeout);
        },
        Math.max(250, Math.floor(limitMs / 3)),
      );
      this.#keepaliveTimer.unref();
    }
    if (present) session.resume();
  }

  #onPublish(p: IPublishPacket): void {
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (this.protocolVersion === 5 && alias !== undefined) {
      if (topic) this.#aliases.set(alias, topic);
      else topic = this.#aliases.get(alias) ?? '';
    }
    if (!validTopic(topic)) {
      this.close(RC.topicNameInvalid);
      return;
    }
    const payload = Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload);
    const msg: Message = {
      topic,
      payload,
      qos: p.qos,
      retain: p.retain,
      from: this.clientId,
      ...(p.properties ? { properties: stripInbound(p.properties) } : {}),
    };
    const s = this.session!;
    if (p.qos === 2) {
      const id = p.messageId!;
      if (!s.awaitingRel.has(id)) {
        s.awaitingRel.add(id);
        this.node.publish(msg);
      }
      this.send({ cmd: 'pubrec', messageId: id });
      return;
    }
    this.node.publish(msg);
    if (p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId! });
  }

  #onSubscribe(p: ISubscribePacket): void {
    const s = this.session!;
    const subId = p.properties?.subscriptionIdentifier;
    const codes: number[] = [];
    const retainedFor: Array<{ filter: string; qos: QoS; rap: boolean }> = [];
    for (const sub of p.subscriptions) {
      if (!validFilter(sub.topic)) {
        codes.push(this.protocolVersion === 5 ? RC.topicFilterInvalid : 0x80);
        continue;
      }
      const share = parseShare(sub.topic);
      const existed = s.subs.has(sub.topic);
      const qos = Math.min(sub.qos, 2) as QoS;
      s.subs.set(sub.topic, {
        qos,
        nl: sub.nl ?? false,
        rap: sub.rap ?? false,
        rh: sub.rh ?? 0,
        share,
        ...(typeof subId === 'number' ? { subscriptionIdentifier: subId } : {}),
      });
      codes.push(qos);
      const rh = sub.rh ?? 0;
      if (!share && (rh === 0 || (rh === 1 && !existed)))
        retainedFor.push({ filter: sub.topic, qos, rap: true });
    }
    this.send({ cmd: 'suback', messageId: p.messageId!, granted: codes } as Packet);
    for (const r of retainedFor) {
      for (const m of this.node.retainedMatching(r.filter)) {
        s.deliver(m, Math.min(m.qos, r.qos) as QoS, true, typeof subId === 'number' ? subId : undefined);
      }
    }
  }
}

function stripInbound(props: NonNullable<IPublishPacket['properties']>): IPublishPacket['properties'] {
  const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = props;
  return rest;
}

/** Round-robin cursors of shared subscription groups (`group\0filter`), process-wide. */
const shareCursor = new Map<string, number>();

export interface ListenerInfo {
  id: string;
  type: 'tcp' | 'ssl' | 'ws' | 'wss';
  port: number;
}

/** The MQTT broker of one node. */
export class NodeMqtt {
  readonly node: EmqxNode;
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly listeners: ListenerInfo[] = [];
  #servers: Array<net.Server | http.Server | https.Server> = [];
  #wss: WebSocketServer[] = [];
  #reloaders: TlsReloader[] = [];
  #starting: Promise<void> | undefined;

  constructor(node: EmqxNode) {
    this.node = node;
  }

  get maxInflight(): number {
    const v = Number(getPath(this.node.raw, 'mqtt.max_inflight') ?? 32);
    return Number.isFinite(v) && v > 0 ? v : 32;
  }

  get maxQueueLen(): number {
    const v = Number(getPath(this.node.raw, 'mqtt.max_mqueue_len') ?? 1000);
    return Number.isFinite(v) && v > 0 ? v : 1000;
  }

  defaultSessionExpiryMs(): number {
    return durationMs(getPath(this.node.raw, 'mqtt.session_expiry_interval'), 2 * 3_600_000);
  }

  /** Connected clients. */
  get liveCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.conn) n++;
    return n;
  }

  /** Sessions, connected or not. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ----- listeners -----

  /** Starts the enabled tcp and ws listeners of the node's config on the pod IP (once). */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const listeners = getPath(this.node.raw, 'listeners');
    if (!listeners || typeof listeners !== 'object' || Array.isArray(listeners)) return;
    for (const type of ['tcp', 'ssl', 'ws', 'wss'] as const) {
      const instances = (listeners as Record<string, HoconValue>)[type];
      if (!instances || typeof instances !== 'object' || Array.isArray(instances)) continue;
      for (const [name, value] of Object.entries(instances as Record<string, HoconValue>)) {
        const id = `${type}:${name}`;
        if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
        const inst = value as HoconObject;
        if (!asBool(getPath(inst, 'enable'), true)) continue;
        const bind = bindPort(getPath(inst, 'bind'));
        if (!bind || bind.port === 0) continue;
        if (bind.host !== undefined && !['0.0.0.0', '::', this.node.podIP].includes(bind.host)) {
          this.node.log('warning', `listener ${id} bound to ${bind.host}: not reachable on the pod IP`);
          continue;
        }
        let ssl: SslOptions | undefined;
        if (type === 'ssl' || type === 'wss') {
          ssl = sslOptionsOf(getPath(inst, 'ssl_options') as HoconObject | undefined);
          if (!ssl) {
            this.node.log('error', `listener ${id} not started: ssl_options has no certfile or keyfile`);
            continue;
          }
          if (this.node.ctx.hostPath(ssl.certfile) === undefined) {
            // EMQX's image bundles a self-signed etc/certs/cert.pem; the emulated one bundles none.
            this.node.log('warning', `listener ${id} not started: ${ssl.certfile} is not mounted`);
            continue;
          }
        }
        try {
          const mqttPath = String(getPath(inst, 'websocket.mqtt_path') ?? '/mqtt');
          if (type === 'tcp' || type === 'ssl') await this.#listenTcp(id, bind.port, ssl);
          else await this.#listenWs(id, bind.port, mqttPath, ssl);
          this.listeners.push({ id, type, port: bind.port });
          this.node.log('info', `listener ${id} started on ${this.node.podIP}:${bind.port}`);
        } catch (e) {
          this.node.log(
            'error',
            `listener ${id} failed to start on port ${bind.port}: ${(e as Error).message}`,
          );
        }
      }
    }
  }

  /** Reads the listener's certificate files (throws naming a missing one) and keeps them fresh. */
  #watchTls(id: string, ssl: SslOptions, server: tls.Server): void {
    const hostPath = (p: string) => this.node.ctx.hostPath(p);
    this.#reloaders.push(
      new TlsReloader(ssl, hostPath, server, {
        error: (msg) => this.node.log('error', `listener ${id}: cannot reload the certificate: ${msg}`),
        reload: () =>
          this.node.log('info', `listener ${id}: certificate files changed, new handshakes use them`),
      }),
    );
  }

  async #listenTcp(id: string, port: number, ssl?: SslOptions): Promise<void> {
    const onSocket = (sock: net.Socket) => {
      sock.setNoDelay(true);
      this.#accept(sock, 'tcp', id, { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 });
    };
    let server: net.Server;
    if (ssl) {
      const hostPath = (p: string) => this.node.ctx.hostPath(p);
      const secure = tls.createServer(loadTls(ssl, hostPath), (sock) => {
        if (!verifyClient(ssl, sock)) sock.destroy();
        else onSocket(sock);
      });
      secure.on('tlsClientError', () => {});
      this.#watchTls(id, ssl, secure);
      server = secure;
    } else {
      server = net.createServer(onSocket);
    }
    await listen(server, port, this.node.podIP);
    this.#servers.push(server);
  }

  async #listenWs(id: string, port: number, mqttPath: string, ssl?: SslOptions): Promise<void> {
    const notFound = (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(404).end();
    };
    let server: http.Server | https.Server;
    if (ssl) {
      const secure = https.createServer(
        loadTls(ssl, (p) => this.node.ctx.hostPath(p)),
        notFound,
      );
      secure.on('secureConnection', (sock: tls.TLSSocket) => {
        if (!verifyClient(ssl, sock)) sock.destroy();
      });
      secure.on('tlsClientError', () => {});
      this.#watchTls(id, ssl, secure);
      server = secure;
    } else {
      server = http.createServer(notFound);
    }
    const wss = new WebSocketServer({
      server,
      path: mqttPath,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : ([...protocols][0] ?? false)),
    });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      this.#accept(stream, 'ws', id, {
        address: req.socket.remoteAddress ?? '',
        port: req.socket.remotePort ?? 0,
      });
    });
    await listen(server, port, this.node.podIP);
    this.#servers.push(server);
    this.#wss.push(wss);
  }

  #accept(stream: Duplex, transport: 'tcp' | 'ws', id: string, peer: Connection['peer']): void {
    if (this.node.status === 'exited') {
      stream.destroy();
      return;
    }
    this.connections.add(new Connection(this, stream, transport, id, peer));
  }

  /** Stops the listeners and ends every connection; sessions are gone (the node's memory). */
  async stop(graceful: boolean): Promise<void> {
    this.dropAll(graceful ? RC.serverShuttingDown : undefined);
    for (const w of this.#wss.splice(0)) w.close();
    for (const r of this.#reloaders.splice(0)) r.close();
    await Promise.all(
      this.#servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            if (s instanceof http.Server || s instanceof https.Server) s.closeAllConnections();
          }),
      ),
    );
  }

  /** Ends every connection (MQTT 5 with `reasonCode`) and discards every session (applications restart). */
  dropAll(reasonCode?: number): number {
    let n = 0;
    const durable = this.node.ds.sessionsDurable
      ? [...this.sessions.values()]
          .filter((s) => s.persistent)
          .map((s) => storeSession(s, this.node.clock.now()))
      : [];
    for (const c of [...this.connections]) {
      if (c.session) n++;
      c.close(reasonCode);
    }
    for (const s of this.sessions.values()) s.expiryTimer?.cancel();
    this.sessions.clear();
    // durable sessions outlive their node: they wait in durable storage for their client
    if (durable.length > 0) this.node.ds.storeSessions(durable);
    return n;
  }

  // ----- sessions -----

  /** Why a CONNECT is refused now (undefined: accepted). */
  admission(): { reasonCode: number; serverReference?: string } | undefined {
    const node = this.node;
    if (node.status !== 'running') return { reasonCode: RC.serverUnavailable };
    if (!node.acceptsNewClients()) {
      const ref = node.evacuation?.opts.redirectTo;
      return { reasonCode: RC.useAnotherServer, ...(ref ? { serverReference: ref } : {}) };
    }
    return undefined;
  }

  /**
   * The nodes this node's routing, takeover and shared subscriptions cover: the running nodes of its cluster,
   * plus replicants of that cluster that are detached from every core (e.g. old-version replicants while the
   * cores already run the new version: mria attaches a replicant to cores of its own release only) but still
   * running and reachable, since EMQX forwards over the distribution with the route table they keep. A detached
   * replicant sees the cluster of the core it last replicated from. Itself always included.
   */
  clusterBrokers(): NodeMqtt[] {
    const node = this.node;
    const fabric = node.fabric;
    let base: EmqxNode[];
    if (node.role === 'replicant' && node.viewCore() === undefined) {
      const last = node.lastCore;
      const anchor =
        last === undefined
          ? undefined
          : fabric
              .all()
              .find(
                (c) =>
                  c.role === 'core' &&
                  c.status === 'running' &&
                  c.members.has(last) &&
                  fabric.reachable(node, c),
              );
      base = anchor ? anchor.runningNodes() : [];
    } else {
      base = node.runningNodes();
    }
    const schema = new Set<string>();
    for (const c of base) if (c.role === 'core') for (const m of c.members) schema.add(m);
    const out = [...base];
    for (const r of fabric.all()) {
      if (
        r.role === 'replicant' &&
        r.status === 'running' &&
        !out.includes(r) &&
        r.viewCore() === undefined &&
        r.lastCore !== undefined &&
        schema.has(r.lastCore) &&
        fabric.reachable(node, r)
      ) {
        out.push(r);
      }
    }
    if (!out.includes(node)) out.push(node);
    return out.map((n) => n.mqtt);
  }

  /** Finds a session anywhere in the cluster. */
  findSession(clientId: string): Session | undefined {
    for (const b of this.clusterBrokers()) {
      const s = b.sessions.get(clientId);
      if (s) return s;
    }
    return undefined;
  }

  openSession(
    conn: Connection,
    clientId: string,
    cleanStart: boolean,
    expiry: number,
    version: number,
  ): { session: Session; present: boolean } {
    const existing = this.findSession(clientId);
    if (existing) {
      const old = existing.conn;
      if (old) {
        existing.conn = undefined;
        old.session = undefined;
        old.close(RC.sessionTakenOver);
      }
      existing.expiryTimer?.cancel();
      existing.expiryTimer = undefined;
      existing.owner.sessions.delete(clientId);
    }
    let session: Session;
    let present = false;
    const stored = existing ? undefined : this.#takeStored(clientId, cleanStart);
    if (existing && !cleanStart) {
      session = existing;
      session.owner = this;
      present = true;
      // inflight messages of the old connection are retransmitted; the queue follows
    } else if (stored) {
      session = restoreSession(stored, this, version);
      present = true;
    } else {
      session = new Session(clientId, this, expiry, version);
    }
    session.expiryInterval = expiry;
    session.protocolVersion = version;
    session.cleanStart = cleanStart;
    session.conn = conn;
    session.disconnectedAt = undefined;
    this.sessions.set(clientId, session);
    return { session, present };
  }

  /** A durable session kept in durable storage (taken out of it; discarded on clean start). */
  #takeStored(clientId: string, cleanStart: boolean): StoredSession | undefined {
    if (this.node.dbRead(DS_SESSIONS, clientId) === undefined) return undefined;
    const rec = this.node.ds.takeSession(clientId);
    return cleanStart ? undefined : rec;
  }

  /** The connection of a session ended: a persistent session waits for its client, others end. */
  detach(s: Session): void {
    if (!s.persistent) {
      if (s.owner.sessions.get(s.clientId) === s) s.owner.sessions.delete(s.clientId);
      return;
    }
    s.disconnectedAt = Date.now();
    s.expiryTimer?.cancel();
    s.expiryTimer = this.node.clock.setTimer(s.expiryInterval * 1000, () => {
      if (s.conn) return;
      if (s.owner.sessions.get(s.clientId) === s) s.owner.sessions.delete(s.clientId);
    });
  }

  // ----- routing -----

  /** Routes a message to every matching subscriber of the cluster and stores it when retained. */
  publish(msg: Message): void {
    if (msg.retain) this.#retain(msg);
    if (this.node.db.size(DS_SESSIONS) > 0) {
      this.node.ds.deliverStored(msg, (filter, sub) => {
        const o = sub as { qos?: number; share?: unknown };
        if (o.share || !topicMatches(filter, msg.topic)) return undefined;
        return Math.min(msg.qos, Number(o.qos ?? 0));
      });
    }
    const shared = new Map<string, Array<{ s: Session; sub: Subscription }>>();
    for (const b of this.clusterBrokers()) {
      for (const s of b.sessions.values()) {
        let best: Subscription | undefined;
        for (const [filter, sub] of s.subs) {
          if (sub.share) {
            if (topicMatches(sub.share.filter, msg.topic)) {
              const key = `${sub.share.group}\u0000${sub.share.filter}`;
              const list = shared.get(key) ?? [];
              list.push({ s, sub });
              shared.set(key, list);
            }
            continue;
          }
          if (!topicMatches(filter, msg.topic)) continue;
          if (sub.nl && msg.from === s.clientId) continue;
          if (!best || sub.qos > best.qos) best = sub;
        }
        if (best) {
          s.deliver(
            msg,
            Math.min(msg.qos, best.qos) as QoS,
            best.rap ? msg.retain : false,
            best.subscriptionIdentifier,
          );
        }
      }
    }
    for (const [key, members] of shared) {
      const connected = members.filter((m) => m.s.conn);
      const pool = connected.length > 0 ? connected : members.filter((m) => m.s.persistent);
      if (pool.length === 0) continue;
      pool.sort((a, b) => (a.s.clientId < b.s.clientId ? -1 : a.s.clientId > b.s.clientId ? 1 : 0));
      const i = (shareCursor.get(key) ?? 0) % pool.length;
      shareCursor.set(key, i + 1);
      const { s, sub } = pool[i]!;
      s.deliver(msg, Math.min(msg.qos, sub.qos) as QoS, false, sub.subscriptionIdentifier);
    }
  }

  #retain(msg: Message): void {
    try {
      const value: JsonValue | undefined =
        msg.payload.length === 0 ? undefined : { payload_b64: msg.payload.toString('base64'), qos: msg.qos };
      this.node.dbWrite([{ table: 'retained', key: msg.topic, value }]);
    } catch (e) {
      this.node.log('warning', `retained message on ${msg.topic} not stored: ${(e as Error).message}`);
    }
  }

  /** Retained messages (the replicated table) whose topic matches `filter`. */
  retainedMatching(filter: string): Message[] {
    const out: Message[] = [];
    for (const [topic, v] of this.node.dbList('retained')) {
      if (!topicMatches(filter, topic)) continue;
      if (typeof v === 'string') {
        out.push({ topic, payload: Buffer.from(v), qos: 0, retain: true });
      } else if (v && typeof v === 'object' && !Array.isArray(v) && typeof v['payload_b64'] === 'string') {
        const qos = Number(v['qos'] ?? 0);
        out.push({
          topic,
          payload: Buffer.from(v['payload_b64'], 'base64'),
          qos: (qos === 1 || qos === 2 ? qos : 0) as QoS,
          retain: true,
        });
      }
    }
    return out;
  }

  // ----- eviction agent -----

  /**
   * Disconnects up to `k` connected clients (MQTT 5: DISCONNECT 0x9C, with a Server-Reference when
   * `redirectTo`); their sessions stay here, disconnected, until a takeover or session eviction. No will.
   */
  evictConnections(k: number, redirectTo?: string): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (n >= k) break;
      const c = s.conn;
      if (!c) continue;
      c.close(RC.useAnotherServer, redirectTo ? { serverReference: redirectTo } : undefined);
      n++;
    }
    return n;
  }

  /** Moves up to `k` disconnected sessions to `targets` (evenly, in order). */
  migrateSessions(k: number, targets: NodeMqtt[]): number {
    if (targets.length === 0) return 0;
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (n >= k) break;
      if (s.conn) continue;
      const t = targets[n % targets.length]!;
      this.sessions.delete(s.clientId);
      s.owner = t;
      t.sessions.set(s.clientId, s);
      n++;
    }
    return n;
  }

  // ----- REST views -----

  clientInfo(s: Session): Record<string, unknown> {
    const c = s.conn;
    return {
      clientid: s.clientId,
      node: this.node.name,
      connected: c !== undefined,
      clean_start: s.cleanStart,
      expiry_interval: s.expiryInterval,
      proto_name: 'MQTT',
      proto_ver: s.protocolVersion,
      subscriptions_cnt: s.subs.size,
      mqueue_len: s.queue.length,
      mqueue_dropped: s.dropped,
      inflight_cnt: s.inflight.size,
      ...(c
        ? {
            ip_address: c.peer.address,
            port: c.peer.port,
            keepalive: c.keepalive,
            listener: c.listenerId,
            connected_at: new Date(c.connectedAt).toISOString(),
          }
        : { disconnected_at: new Date(s.disconnectedAt ?? Date.now()).toISOString() }),
      created_at: new Date(s.createdAt).toISOString(),
    };
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A persistent session as durable storage keeps it: subscriptions, and unacknowledged then queued messages. */
function storeSession(s: Session, now: number): StoredSession {
  const msgs = [...[...s.inflight.values()].map((f) => ({ msg: f.msg, qos: f.qos })), ...s.queue];
  return {
    clientId: s.clientId,
    expiry: s.expiryInterval,
    proto: s.protocolVersion,
    storedAt: now,
    subs: [...s.subs].map(([f, sub]) => [f, { ...sub } as unknown as JsonValue]),
    queue: msgs.map(({ msg, qos }) => ({
      topic: msg.topic,
      payload_b64: msg.payload.toString('base64'),
      qos,
      retain: msg.retain,
    })),
  };
}

function restoreSession(rec: StoredSession, owner: NodeMqtt, version: number): Session {
  const s = new Session(rec.clientId, owner, rec.expiry, version);
  for (const [filter, sub] of rec.subs) s.subs.set(filter, sub as unknown as Subscription);
  for (const m of rec.queue) {
    const qos = (m.qos === 1 || m.qos === 2 ? m.qos : 0) as QoS;
    s.queue.push({
      msg: { topic: m.topic, payload: Buffer.from(m.payload_b64, 'base64'), qos, retain: m.retain },
      qos,
    });
  }
  return s;
}
