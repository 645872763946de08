/**
 * Offline harness: evaluates the Pulumi program for one stack under the SDK's mock runtime, with
 * that stack's config read from Pulumi.<stack>.yaml, and records every resource the program
 * registers: type, logical name, parent, provider, dependsOn, protect / retainOnDelete /
 * ignoreChanges, and inputs (secrets written as "[secret]").
 *
 * Needs neither the Pulumi CLI nor provider plugins nor cloud credentials. Used by
 * `npm run render` and by the mocha tests. Nothing in the program depends on it.
 */
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as sdkDebuggable from "@pulumi/pulumi/runtime/debuggable";
import * as mocks from "./mocks";
import { withPlainStructs } from "./plain-structs";
import { type ConfigOverrides, projectName, readStackConfig, ROOT } from "./stacks";

// What the stack files are and how they are read, in tools/stacks.ts (no SDK: a CLI checks a stack
// name before loading it); re-exported for the harness's users.
export { type ConfigOverrides, knownStacks, projectName, readStackConfig, ROOT } from "./stacks";

export const SECRET = "[secret]";
const UNKNOWN = "[unknown]";

// Signatures the Pulumi wire format uses for special values.
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270";
const SIG_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e";
const SIG_ASSET = "c44067f5952c0a294b673a41bacd8c17";
const SIG_ARCHIVE = "0def7320c3a5731c473e5ecbe6d11154";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface RecordedResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    id?: string;
    parent?: string;
    provider?: string;
    dependsOn: string[];
    protect: boolean;
    retainOnDelete: boolean;
    deleteBeforeReplace: boolean;
    ignoreChanges: string[];
    replaceOnChanges: string[];
    additionalSecretOutputs: string[];
    /** URNs this resource had before (aliases): the engine adopts it instead of replacing it. */
    aliases: string[];
    /** Inputs as the engine would receive them; secret values are "[secret]". */
    inputs: Record<string, unknown>;
}

export interface StackRender {
    stack: string;
    project: string;
    resources: RecordedResource[];
    /** Stack outputs; secret outputs are "[secret]". */
    outputs: Record<string, unknown>;
}

export interface EvaluateOptions {
    /** Changes to the stack file's config, e.g. `{"cli-platform:cluster": {...}}`. */
    config?: ConfigOverrides;
    /** Keys (ns:key) to treat as secret in addition to `secure:` values in the stack file. */
    secretKeys?: string[];
    /**
     * Keep the SDK's per-resource stack capture (see `withoutStackCapture`). Only the test that
     * proves it changes nothing of a render needs it.
     * @default false
     */
    sdkStackCapture?: boolean;
    /**
     * Keep google-protobuf's encoding of the property maps between the SDK and the mock monitor
     * (see `withPlainStructs` in tools/plain-structs.ts). Only the test that proves it changes
     * nothing of a render needs it.
     * @default false
     */
    sdkStructs?: boolean;
}

/** What a value built from a missing output or a stringified object reads like. */
export const BROKEN_VALUE = /\bundefined\b|\[object Object\]|\bNaN\b/;

/** `Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]))` without the arrays in between. */
function mapValues(obj: Record<string, unknown>, fn: (value: unknown) => unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(obj)) {
        // A key "__proto__" is an own property there, not the prototype.
        if (key === "__proto__") Object.defineProperty(out, key, { value: fn(obj[key]), enumerable: true, writable: true, configurable: true });
        else out[key] = fn(obj[key]);
    }
    return out;
}

/**
 * A secret's value with every leaf replaced by "[secret]": its shape (map keys) stays readable. A
 * leaf built from a missing value (`undefined`, `[object Object]`, `NaN`) is shown as such, so a
 * secret cannot hide a broken render.
 */
function mask(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(mask);
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG_KEY] === SIG_SECRET) return mask(obj.value);
        return mapValues(obj, mask);
    }
    const broken = value === undefined || (typeof value === "number" && Number.isNaN(value)) ? String(value) : BROKEN_VALUE.exec(String(value))?.[0];
    return broken ? `${SECRET} (broken: ${broken})` : SECRET;
}

/** Replaces the wire format's special values: secrets by "[secret]" (keeping map keys), resources by their URN. */
export function redact(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(redact);
    if (value === UNKNOWN_VALUE) return UNKNOWN;
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        switch (obj[SIG_KEY]) {
            case SIG_SECRET:
                return mask(obj.value);
            case SIG_RESOURCE:
                return obj.urn;
            case SIG_ASSET:
            case SIG_ARCHIVE:
                return { asset: obj.path ?? obj.uri ?? "(inline)" };
            default:
                return mapValues(obj, redact);
        }
    }
    return value;
}

function providerUrn(ref: string): string | undefined {
    if (!ref) return undefined;
    const i = ref.lastIndexOf("::");
    return i > 0 ? ref.slice(0, i) : ref;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the monitor's protobuf request types are untyped here */
function record(req: any, resources: RecordedResource[], urnOf: (req: any) => string): RecordedResource {
    const rec: RecordedResource = {
        urn: urnOf(req),
        type: req.getType(),
        name: req.getName(),
        custom: typeof req.getCustom === "function" ? Boolean(req.getCustom()) : true,
        parent: req.getParent() || undefined,
        provider: providerUrn(req.getProvider()),
        dependsOn: typeof req.getDependenciesList === "function" ? [...req.getDependenciesList()] : [],
        protect: typeof req.getProtect === "function" ? Boolean(req.getProtect()) : false,
        retainOnDelete: typeof req.getRetainondelete === "function" ? Boolean(req.getRetainondelete()) : false,
        deleteBeforeReplace: typeof req.getDeletebeforereplace === "function" ? Boolean(req.getDeletebeforereplace()) : false,
        ignoreChanges: typeof req.getIgnorechangesList === "function" ? [...req.getIgnorechangesList()] : [],
        replaceOnChanges: typeof req.getReplaceonchangesList === "function" ? [...req.getReplaceonchangesList()] : [],
        additionalSecretOutputs: typeof req.getAdditionalsecretoutputsList === "function" ? [...req.getAdditionalsecretoutputsList()] : [],
        // The alias URNs the SDK resolved (instrument has it resolve them: see there).
        aliases: typeof req.getAliasurnsList === "function" ? [...req.getAliasurnsList()] : [],
        inputs: redact((req.getObject?.() ?? req.getProperties?.())?.toJavaScript() ?? {}) as Record<string, unknown>,
    };
    resources.push(rec);
    return rec;
}

/** Wraps the mock monitor so each registration is recorded with its options. */
function instrument(monitor: any, resources: RecordedResource[], stackOutputs: { value?: unknown }): void {
    // URNs as the engine makes them: the parent's whole type chain, without the root stack's type (the
    // mock monitor prefixes only the parent's own type, the stack's included).
    monitor.newUrn = engineUrn;
    // Without alias specs the SDK resolves aliases to URNs itself (allAliases in @pulumi/pulumi/resource.js:
    // each alias, and every alias of the parent carried over to its children: the rules the engine applies
    // to specs), so each recorded resource lists the old URNs it would adopt.
    const supportsFeature = monitor.supportsFeature.bind(monitor);
    monitor.supportsFeature = (req: any, callback: (err: unknown, resp: any) => void) =>
        req.getId() === "aliasSpecs" ? callback(null, { getHassupport: () => false }) : supportsFeature(req, callback);
    const newUrn = (req: any) => monitor.newUrn(req.getParent(), req.getType(), req.getName());
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) => {
        const rec = record(req, resources, newUrn);
        register(req, (err: unknown, resp: any) => {
            if (resp) {
                rec.id = resp.getId() || undefined;
                // Mark additionalSecretOutputs as secrets, as the engine does.
                if (rec.additionalSecretOutputs.length > 0) {
                    const obj = resp.getObject().toJavaScript();
                    for (const key of rec.additionalSecretOutputs) {
                        if (key in obj) obj[key] = { [SIG_KEY]: SIG_SECRET, value: obj[key] };
                    }
                    resp.setObject(req.getObject().constructor.fromJavaScript(obj));
                }
            }
            callback(err, resp);
        });
    };
    const read = monitor.readResource.bind(monitor);
    monitor.readResource = (req: any, callback: (err: unknown, resp: any) => void) => {
        record(req, resources, newUrn);
        read(req, callback);
    };
    const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (req: any, callback: (err: unknown, resp: any) => void) => {
        if (req.getUrn().split("::")[2] === "pulumi:pulumi:Stack") stackOutputs.value = redact(req.getOutputs()?.toJavaScript() ?? {});
        registerOutputs(req, callback);
    };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * A digest of everything a render declares: every resource with every recorded field (its URN,
 * parent, provider, dependencies, options and inputs) except the mock's `id` (derived from the name,
 * which the URN carries), and the stack outputs. Resources are taken in URN order, so a change of
 * registration order alone is no change. Two renders with the same digest declare the same thing.
 */
export function renderDigest(render: StackRender): string {
    const resources = render.resources.map(({ id: _id, ...declared }) => declared).sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
    return crypto
        .createHash("sha256")
        .update(JSON.stringify({ resources, outputs: render.outputs }))
        .digest("hex");
}

/**
 * The URN the engine gives a resource: `urn:pulumi:<stack>::<project>::<parent's type chain>$<type>::<name>`,
 * where a child of the root stack (or of nothing) has no parent chain (Pulumi's CreateURN; the SDK's
 * `createUrn` in @pulumi/pulumi/resource.js applies the same rule to aliases).
 */
export function engineUrn(parentUrn: string | undefined, type: string, name: string): string {
    const parentChain = parentUrn ? parentUrn.split("::")[2] : undefined;
    const chain = parentChain && parentChain !== "pulumi:pulumi:Stack" ? `${parentChain}$${type}` : type;
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${chain}::${name}`;
}

/** The program failed; `resources` holds what it had registered by then (to prove nothing was half-declared). */
export class StackEvaluationError extends Error {
    constructor(
        readonly cause: unknown,
        readonly resources: RecordedResource[],
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
        this.name = cause instanceof Error ? cause.name : "StackEvaluationError";
    }
}

/** The SDK internals `withoutStackCapture` replaces (@pulumi/pulumi is pinned; a test fails if they move). */
interface StackCapture {
    resource: { callsites: () => unknown[] };
    debuggable: { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
}
const sdk = { resource: pulumi.Resource, debuggable: sdkDebuggable } as unknown as StackCapture;

/**
 * Runs `fn` with the SDK's per-resource stack capture switched off: the call stack of every resource
 * constructor (`Resource.callsites`, formatted at unlimited depth and sent to the engine as the
 * resource's source position and stack trace) and the stack and leak bookkeeping of every RPC
 * promise (`debuggablePromise`, read only to print leaked promises at exit). The mock monitor reads
 * none of it, and it was about 60 % of an evaluation's CPU (README "Development"). The replacement keeps
 * the SDK's chain of promises, so what the program registers, and in which order, is unchanged
 * (tests/stacks.test.ts compares renders with and without).
 */
export async function withoutStackCapture<T>(fn: () => Promise<T>): Promise<T> {
    const { callsites } = sdk.resource;
    const { debuggablePromise } = sdk.debuggable;
    if (typeof callsites !== "function" || typeof debuggablePromise !== "function") {
        throw new Error("harness: @pulumi/pulumi no longer has Resource.callsites and runtime/debuggable.debuggablePromise; update withoutStackCapture");
    }
    sdk.resource.callsites = () => [];
    // The same chain of promises as the SDK's (so registrations keep their order), minus the stack and the leak bookkeeping.
    sdk.debuggable.debuggablePromise = (p) =>
        p
            .then((value) => value)
            .catch((err: unknown) => {
                throw err;
            });
    try {
        return await fn();
    } finally {
        sdk.resource.callsites = callsites;
        sdk.debuggable.debuggablePromise = debuggablePromise;
    }
}

let running = false;

/**
 * Evaluates the program (index.ts) for `stack` under mocks and returns what it registered.
 * Rejects with the program's own error (e.g. a ConfigError) when it fails.
 */
export async function evaluateStack(stack: string, options: EvaluateOptions = {}): Promise<StackRender> {
    if (running) throw new Error("harness: evaluateStack is not re-entrant; await the previous evaluation first");
    running = true;
    try {
        const structs = options.sdkStructs ? () => evaluate(stack, options) : () => withPlainStructs(() => evaluate(stack, options));
        return await (options.sdkStackCapture ? structs() : withoutStackCapture(structs));
    } finally {
        running = false;
    }
}

async function evaluate(stack: string, options: EvaluateOptions): Promise<StackRender> {
    const project = projectName();
    const { config, secretKeys } = readStackConfig(stack, options.config);
    const region = config["aws:region"] ?? "us-east-1";
    const resources: RecordedResource[] = [];
    const stackOutputs: { value?: unknown } = {};
    const failures: unknown[] = [];
    const onRejection = (reason: unknown) => failures.push(reason);
    process.on("unhandledRejection", onRejection);
    try {
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => mocks.newResource(args, { region }),
                call: (args) => mocks.call(args, { region }),
            },
            project,
            stack,
            false,
        );
        pulumi.runtime.setAllConfig(config, [...secretKeys, ...(options.secretKeys ?? [])]);
        instrument(pulumi.runtime.getMonitor(), resources, stackOutputs);

        // The project directory, required as Pulumi's runtime requires it (package.json main), exports
        // the program function (Pulumi calls it for `pulumi up`); call it the same way.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(`${ROOT}/`) as () => Promise<Record<string, unknown>>;
        try {
            await pulumi.runtime.runInPulumiStack(program);
            await pulumi.runtime.waitForRPCs();
        } catch (err) {
            failures.unshift(err);
        }
        // Let rejected promises inside apply() callbacks surface, and (after a failure) the rejections
        // the error leaves behind in the SDK's pending work: they belong to this evaluation, not to
        // whatever runs next in this process.
        await new Promise((resolve) => setImmediate(resolve));
        if (failures.length > 0) throw new StackEvaluationError(failures[0], resources);
        return { stack, project, resources, outputs: (stackOutputs.value ?? {}) as Record<string, unknown> };
    } finally {
        process.off("unhandledRejection", onRejection);
    }
}

declare module "@pulumi/pulumi/runtime" {
    function waitForRPCs(): Promise<void>;
}
