/**
 * A Pulumi ResourceProvider gRPC server for the STAND-IN provider plugins (test infrastructure only: see
 * ../README.md). It speaks the same protocol as a real provider plugin: the engine starts the binary with its own
 * address as the last argument, we listen on 127.0.0.1 and print the port on stdout.
 *
 * What the generic part does, the way Terraform-bridged providers do it:
 *  - Check: applies defaults and auto-names (`<name>-<7 hex>` in `name` when absent, recorded in `__defaults`),
 *    keeps secrets wrapped, lets unknown (preview) values through;
 *  - Diff: compares the new inputs with the old inputs, key by key (sets unordered, empty == absent); a changed
 *    ForceNew key means replace; an explicitly named resource that is replaced is deleted first (the bridge's
 *    rule: the same name cannot exist twice);
 *  - Create/Update in preview: inputs plus unknown computed outputs; for real: the resource's handler;
 *  - outputs of secret inputs stay secret; a create that fails after the cloud object exists returns its id
 *    (ErrorResourceInitFailed) so that the engine records it and `destroy` removes it.
 */
import * as fs from "fs";
import * as grpc from "@grpc/grpc-js";
import {
  Props,
  UNKNOWN,
  clean,
  deepEqual,
  hasUnknown,
  isEmpty,
  plain,
  randomHex,
  secretKeys,
  unwrap,
  wrapKeys,
} from "./values";

const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const plugproto = require("@pulumi/pulumi/proto/plugin_pb");
const enginerpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const engineproto = require("@pulumi/pulumi/proto/engine_pb");
const statusproto = require("@pulumi/pulumi/proto/status_pb");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");
const anyproto = require("google-protobuf/google/protobuf/any_pb");

export type Severity = "debug" | "info" | "warning" | "error";

export interface Ctx {
  readonly urn: string;
  /** the resource's name in the program */
  readonly name: string;
  /** the operation's timeout in seconds (customTimeouts), 0 = the handler's default */
  readonly timeoutSec: number;
  log(severity: Severity, message: string, ephemeral?: boolean): void;
  /** true once the engine asked us to cancel (Ctrl-C): wait loops stop */
  cancelled(): boolean;
  /** top-level input keys that arrived as secrets (their outputs are returned as secrets) */
  readonly secretInputs: ReadonlySet<string>;
}

export interface CheckFailure {
  property: string;
  reason: string;
}

export interface ResourceHandler {
  /** input keys whose change forces a new resource (Terraform's ForceNew) */
  readonly replaceOn: readonly string[];
  /** a change that forces a new resource only under a condition (Terraform's CustomizeDiff ForceNewIfChange) */
  replaceIf?(key: string, oldValue: unknown, newValue: unknown): boolean;
  /** input keys compared as unordered sets (Terraform's TypeSet) */
  readonly setKeys?: readonly string[];
  /** values Check adds when the key is absent (Terraform's Default) */
  readonly defaults?: Props;
  /** `name` is auto-named when absent (pulumi-terraform-bridge SetAutonaming) */
  readonly autoName?: boolean;
  /** outputs the cloud computes: unknown in the preview of a create */
  readonly computed: readonly string[];
  /** value used to compare a key's old and new inputs (e.g. a hash), default identity */
  normalize?(key: string, value: unknown): unknown;
  validate?(inputs: Props): CheckFailure[];
  create(ctx: Ctx, inputs: Props): Promise<{ id: string; outs: Props }>;
  /** undefined: the object is gone */
  read(ctx: Ctx, id: string, state: Props, inputs: Props): Promise<{ outs: Props; inputs?: Props } | undefined>;
  update(ctx: Ctx, id: string, state: Props, oldInputs: Props, news: Props, changed: string[]): Promise<Props>;
  delete(ctx: Ctx, id: string, state: Props, inputs: Props): Promise<void>;
}

export interface ProviderImpl {
  readonly name: string;
  readonly version: string;
  readonly resources: Record<string, ResourceHandler>;
  readonly functions: Record<string, (args: Props, ctx: Ctx) => Promise<Props>>;
  /** provider config, secrets unwrapped */
  configure(config: Props): Promise<void>;
  checkConfig?(config: Props): CheckFailure[];
}

/** A create/update that failed after the object existed: the engine keeps `id` (and `outs`) in its state. */
export class InitError extends Error {
  constructor(
    message: string,
    readonly id: string,
    readonly outs: Props,
  ) {
    super(message);
  }
}

const DEBUG_FILE = process.env.STANDIN_PROVIDER_DEBUG_LOG;
export function debug(msg: string) {
  if (DEBUG_FILE) fs.appendFileSync(DEBUG_FILE, `${new Date().toISOString()} [${process.pid}] ${msg}\n`);
}

function toJs(s: { toJavaScript(): Props } | undefined): Props {
  return s ? s.toJavaScript() : {};
}

function toStruct(p: Props) {
  return structproto.Struct.fromJavaScript(clean(p));
}

function typeOf(urn: string): string {
  // urn:pulumi:stack::project::parent$type::name
  const parts = urn.split("::");
  return parts[2]?.split("$").pop() ?? "";
}

function nameOf(urn: string): string {
  return urn.split("::").pop() ?? "";
}

function grpcError(e: unknown): grpc.ServiceError {
  const err = e as Error & Partial<InitError>;
  const message = err?.message ?? String(e);
  const metadata = new grpc.Metadata();
  if (err instanceof InitError) {
    const status = new statusproto.Status();
    status.setCode(grpc.status.UNKNOWN);
    status.setMessage(message);
    const detail = new provproto.ErrorResourceInitFailed();
    detail.setId(err.id);
    detail.setProperties(toStruct(err.outs));
    detail.setReasonsList([message]);
    const any = new anyproto.Any();
    any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
    status.addDetails(any);
    metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
  }
  return Object.assign(new Error(message), { code: grpc.status.UNKNOWN, details: message, metadata });
}

type Callback = (err: grpc.ServiceError | null, value?: unknown) => void;
type Call = { request: any };

function unimplemented(what: string) {
  return (_call: Call, cb: Callback) =>
    cb(
      Object.assign(new Error(`${what} is not implemented by this stand-in provider`), {
        code: grpc.status.UNIMPLEMENTED,
        details: `${what} is not implemented by this stand-in provider`,
        metadata: new grpc.Metadata(),
      }),
    );
}

/** Runs the provider: parses the engine's arguments, serves, prints the port. */
export async function serve(impl: ProviderImpl, argv = process.argv.slice(2)): Promise<void> {
  let engineAddr = argv.filter((a) => !a.startsWith("-")).pop();
  let cancelled = false;
  let engine: any;
  const engineClient = () => {
    if (!engine && engineAddr) engine = new enginerpc.EngineClient(engineAddr, grpc.credentials.createInsecure());
    return engine;
  };
  const sev: Record<Severity, number> = { debug: 0, info: 1, warning: 2, error: 3 };
  const makeCtx = (urn: string, timeoutSec = 0, secretInputs: ReadonlySet<string> = new Set()): Ctx => ({
    urn,
    name: nameOf(urn),
    timeoutSec,
    secretInputs,
    cancelled: () => cancelled,
    log(severity, message, ephemeral = false) {
      debug(`log ${severity} ${urn}: ${message}`);
      const c = engineClient();
      if (!c) return;
      const req = new engineproto.LogRequest();
      req.setSeverity(sev[severity]);
      req.setMessage(message);
      req.setUrn(urn);
      req.setEphemeral(ephemeral);
      c.log(req, () => undefined);
    },
  });
  const handlerFor = (urn: string): ResourceHandler => {
    const t = typeOf(urn);
    const h = impl.resources[t];
    if (!h) throw new Error(`${impl.name} stand-in provider: resource type ${t} is not implemented`);
    return h;
  };

  const wrap = (name: string, fn: (req: any) => Promise<unknown>) => (call: Call, cb: Callback) => {
    fn(call.request).then(
      (res) => cb(null, res),
      (e) => {
        debug(`${name} failed: ${(e as Error)?.stack ?? e}`);
        cb(grpcError(e));
      },
    );
  };

  const diffProps = (
    h: Pick<ResourceHandler, "replaceOn" | "replaceIf" | "setKeys" | "normalize" | "autoName">,
    base: Props,
    news: Props,
  ) => {
    const norm = (k: string, v: unknown) => {
      let x = unwrap(v);
      if (h.normalize) x = h.normalize(k, x);
      if (h.setKeys?.includes(k) && Array.isArray(x)) x = [...x].map((e) => JSON.stringify(e)).sort();
      return x;
    };
    const keys = new Set([...Object.keys(base), ...Object.keys(news)]);
    keys.delete("__defaults");
    const changed: string[] = [];
    const replaces: string[] = [];
    const detailed: Record<string, number> = {};
    const K = provproto.PropertyDiff.Kind;
    for (const k of keys) {
      const o = base[k];
      const n = news[k];
      if (!hasUnknown(n)) {
        const on = norm(k, o);
        const nn = norm(k, n);
        if ((isEmpty(on) && isEmpty(nn)) || deepEqual(on, nn)) continue;
      }
      changed.push(k);
      const replace = h.replaceOn.includes(k) || (!hasUnknown(n) && !!h.replaceIf?.(k, unwrap(o), unwrap(n)));
      if (replace) replaces.push(k);
      detailed[k] = isEmpty(o)
        ? replace
          ? K.ADD_REPLACE
          : K.ADD
        : isEmpty(n)
          ? replace
            ? K.DELETE_REPLACE
            : K.DELETE
          : replace
            ? K.UPDATE_REPLACE
            : K.UPDATE;
    }
    const defaults = (unwrap(news.__defaults) as string[] | undefined) ?? [];
    const deleteBeforeReplace = replaces.length > 0 && !!h.autoName && !!news.name && !defaults.includes("name");
    return { changed, detailed, replaces, deleteBeforeReplace };
  };

  const diffResponse = (d: ReturnType<typeof diffProps>) => {
    const resp = new provproto.DiffResponse();
    resp.setChanges(
      d.changed.length ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE,
    );
    resp.setDiffsList(d.changed);
    resp.setReplacesList(d.replaces);
    resp.setDeletebeforereplace(d.deleteBeforeReplace);
    resp.setHasdetaileddiff(true);
    const m = resp.getDetaileddiffMap();
    for (const [k, kind] of Object.entries(d.detailed)) {
      const pd = new provproto.PropertyDiff();
      pd.setKind(kind);
      pd.setInputdiff(true);
      m.set(k, pd);
    }
    return resp;
  };

  const service = {
    handshake: wrap("Handshake", async (req) => {
      if (req.getEngineAddress()) engineAddr = req.getEngineAddress();
      // (the engine's cwd for us is the program directory; Handshake's programDirectory is the plugin's own)
      debug(`handshake engine=${engineAddr} programDirectory=${req.getProgramDirectory?.()} cwd=${process.cwd()}`);
      const resp = new provproto.ProviderHandshakeResponse();
      resp.setAcceptSecrets(true);
      resp.setAcceptResources(false);
      resp.setAcceptOutputs(false);
      resp.setSupportsAutonamingConfiguration(true);
      return resp;
    }),
    parameterize: unimplemented("Parameterize"),
    getSchema: wrap("GetSchema", async () => {
      const resp = new provproto.GetSchemaResponse();
      resp.setSchema("{}");
      return resp;
    }),
    checkConfig: wrap("CheckConfig", async (req) => {
      const news = toJs(req.getNews());
      const resp = new provproto.CheckResponse();
      resp.setInputs(toStruct(news));
      const failures = impl.checkConfig?.(unwrap(news) as Props) ?? [];
      resp.setFailuresList(
        failures.map((f) => {
          const cf = new provproto.CheckFailure();
          cf.setProperty(f.property);
          cf.setReason(f.reason);
          return cf;
        }),
      );
      return resp;
    }),
    diffConfig: wrap("DiffConfig", async (req) => {
      const olds = req.getOldInputs() ? toJs(req.getOldInputs()) : toJs(req.getOlds());
      const news = toJs(req.getNews());
      // a different cloud/region/credential: the bridge reports an update (no ForceNew in provider config)
      return diffResponse(diffProps({ replaceOn: [] }, olds, news));
    }),
    configure: wrap("Configure", async (req) => {
      let config: Props = {};
      if (req.hasArgs()) {
        config = unwrap(toJs(req.getArgs())) as Props;
      } else {
        const prefix = `${impl.name}:config:`;
        for (const [k, v] of req.getVariablesMap().entries() as Iterable<[string, string]>) {
          const key = k.startsWith(prefix) ? k.slice(prefix.length) : k.split(":").pop()!;
          config[key] = v;
        }
      }
      debug(`configure keys=${Object.keys(config).sort().join(",")}`);
      await impl.configure(config);
      const resp = new provproto.ConfigureResponse();
      resp.setAcceptsecrets(true);
      resp.setSupportspreview(true);
      resp.setAcceptresources(false);
      resp.setAcceptoutputs(false);
      return resp;
    }),
    invoke: wrap("Invoke", async (req) => {
      const tok: string = req.getTok();
      const fn = impl.functions[tok];
      if (!fn) throw new Error(`${impl.name} stand-in provider: function ${tok} is not implemented`);
      const args = unwrap(toJs(req.getArgs())) as Props;
      debug(`invoke ${tok} ${JSON.stringify(args)}`);
      const out = await fn(args, makeCtx(""));
      const resp = new provproto.InvokeResponse();
      resp.setReturn(toStruct(out));
      return resp;
    }),
    call: unimplemented("Call"),
    construct: unimplemented("Construct"),
    check: wrap("Check", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const olds = toJs(req.getOlds());
      const news = toJs(req.getNews());
      const inputs: Props = { ...news };
      if (h.autoName) {
        const oldDefaults = (unwrap(olds.__defaults) as string[] | undefined) ?? [];
        if (isEmpty(inputs.name)) {
          const auto = req.getAutonaming?.();
          const mode = auto?.getMode?.();
          if (olds.name && oldDefaults.includes("name")) inputs.name = olds.name;
          else if (auto && auto.getProposedName() && mode !== 2) inputs.name = auto.getProposedName();
          else inputs.name = `${req.getName() || nameOf(urn)}-${randomHex(7)}`;
          inputs.__defaults = ["name"];
        } else {
          inputs.__defaults = [];
        }
      }
      for (const [k, v] of Object.entries(h.defaults ?? {}))
        if (inputs[k] === undefined || inputs[k] === null) inputs[k] = v;
      const failures = hasUnknown(inputs) ? [] : (h.validate?.(unwrap(inputs) as Props) ?? []);
      const resp = new provproto.CheckResponse();
      resp.setInputs(toStruct(inputs));
      resp.setFailuresList(
        failures.map((f) => {
          const cf = new provproto.CheckFailure();
          cf.setProperty(f.property);
          cf.setReason(f.reason);
          return cf;
        }),
      );
      return resp;
    }),
    diff: wrap("Diff", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const oldInputs = toJs(req.getOldInputs());
      const base = Object.keys(oldInputs).length ? oldInputs : toJs(req.getOlds());
      const news = toJs(req.getNews());
      const ignore: string[] = req.getIgnorechangesList();
      for (const k of ignore) if (k in base) news[k] = base[k];
      const d = diffProps(h, base, news);
      debug(`diff ${urn}: changed=${d.changed} replaces=${d.replaces}`);
      return diffResponse(d);
    }),
    create: wrap("Create", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const raw = toJs(req.getProperties());
      const { values, secrets } = plain(raw);
      delete values.__defaults;
      const resp = new provproto.CreateResponse();
      if (req.getPreview()) {
        const outs: Props = { ...raw };
        delete outs.__defaults;
        for (const k of h.computed) if (outs[k] === undefined) outs[k] = UNKNOWN;
        resp.setId("");
        resp.setProperties(toStruct(outs));
        return resp;
      }
      const ctx = makeCtx(urn, req.getTimeout(), secrets);
      try {
        const { id, outs } = await h.create(ctx, values);
        resp.setId(id);
        resp.setProperties(toStruct(wrapKeys(outs, secrets)));
        return resp;
      } catch (e) {
        if (e instanceof InitError) throw new InitError(e.message, e.id, wrapKeys(e.outs, secrets));
        throw e;
      }
    }),
    read: wrap("Read", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const id: string = req.getId();
      const rawState = toJs(req.getProperties());
      const rawInputs = toJs(req.getInputs());
      const state = plain(rawState);
      const inputs = plain(rawInputs);
      const secrets = new Set([...state.secrets, ...inputs.secrets]);
      const res = await h.read(makeCtx(urn, req.getTimeout?.() ?? 0, secrets), id, state.values, inputs.values);
      const resp = new provproto.ReadResponse();
      if (!res) {
        resp.setId("");
        return resp;
      }
      resp.setId(id);
      resp.setProperties(toStruct(wrapKeys(res.outs, secrets)));
      const newInputs = res.inputs ?? inputs.values;
      if (rawInputs.__defaults !== undefined) newInputs.__defaults = rawInputs.__defaults;
      if (Object.keys(rawInputs).length || res.inputs) resp.setInputs(toStruct(wrapKeys(newInputs, secrets)));
      return resp;
    }),
    list: (call: { emit(ev: string, e: unknown): void }) =>
      call.emit("error", { code: grpc.status.UNIMPLEMENTED, details: "List is not implemented" }),
    update: wrap("Update", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const rawNews = toJs(req.getNews());
      const rawOlds = toJs(req.getOlds());
      const rawOldInputs = toJs(req.getOldInputs());
      const resp = new provproto.UpdateResponse();
      if (req.getPreview()) {
        const outs: Props = { ...rawOlds, ...rawNews };
        delete outs.__defaults;
        resp.setProperties(toStruct(outs));
        return resp;
      }
      const news = plain(rawNews);
      delete news.values.__defaults;
      const olds = plain(rawOlds);
      const oldInputs = plain(Object.keys(rawOldInputs).length ? rawOldInputs : rawOlds);
      const d = diffProps(h, oldInputs.values, news.values);
      const ctx = makeCtx(urn, req.getTimeout(), news.secrets);
      const outs = await h.update(ctx, req.getId(), olds.values, oldInputs.values, news.values, d.changed);
      resp.setProperties(toStruct(wrapKeys(outs, secretKeys(rawNews))));
      return resp;
    }),
    delete: wrap("Delete", async (req) => {
      const urn: string = req.getUrn();
      const h = handlerFor(urn);
      const state = plain(toJs(req.getProperties()));
      const inputs = plain(toJs(req.getOldInputs()));
      await h.delete(makeCtx(urn, req.getTimeout(), inputs.secrets), req.getId(), state.values, inputs.values);
      return new emptyproto.Empty();
    }),
    cancel: wrap("Cancel", async () => {
      cancelled = true;
      return new emptyproto.Empty();
    }),
    getPluginInfo: wrap("GetPluginInfo", async () => {
      const resp = new plugproto.PluginInfo();
      resp.setVersion(impl.version);
      return resp;
    }),
    attach: wrap("Attach", async (req) => {
      engineAddr = req.getAddress();
      engine = undefined;
      return new emptyproto.Empty();
    }),
    getMapping: wrap("GetMapping", async () => {
      const resp = new provproto.GetMappingResponse();
      resp.setProvider("");
      resp.setData(new Uint8Array());
      return resp;
    }),
    getMappings: wrap("GetMappings", async () => new provproto.GetMappingsResponse()),
  };

  const server = new grpc.Server({
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
  });
  server.addService(provrpc.ResourceProviderService, service as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  debug(`${impl.name} ${impl.version} listening on 127.0.0.1:${port}, engine=${engineAddr}, cwd=${process.cwd()}`);
  process.stdout.write(`${port}\n`);
}
