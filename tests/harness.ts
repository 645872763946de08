/**
 * The one shared helper module of the test suite: evaluates stacks through the offline harness
 * (cached per stack, so each stack runs once per mocha process) and gives typed look-ups into
 * what they registered.
 */
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import standaloneCode from "ajv/dist/standalone";
import * as YAML from "yaml";
import { type AwsPlatformConfig, parseConfig, type RawConfig } from "../config";
import { schemaPath } from "../tools/crd-schemas";
import {
    type ConfigOverrides,
    evaluateStack,
    type EvaluateOptions,
    type RecordedResource,
    ROOT,
    StackEvaluationError,
    type StackRender,
} from "../tools/harness";

export { ROOT, SECRET } from "../tools/harness";
export type { RecordedResource, StackRender } from "../tools/harness";

export const STACKS = ["dev", "staging", "prod", "local"] as const;
export type StackName = (typeof STACKS)[number];

/** Renders of this process, by stack and options (`key`): each variant is evaluated once and shared by every test that asks for it. */
const cache = new Map<string, Promise<StackRender>>();
let queue: Promise<unknown> = Promise.resolve();

/** Evaluations are serialised: the Pulumi runtime is process-global. */
function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
}

/**
 * `value` as text with object keys sorted and `undefined` spelled out (a config key set to
 * `undefined` is not the same change as a key left out): equal for equal options, whatever the key order.
 */
function canonical(value: unknown): string {
    if (value === undefined) return "undefined";
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        return `{${Object.keys(obj)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(value);
}

/** `value`, frozen all the way down: a test that changed a shared render would throw instead of changing what other tests read. */
function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value)) deepFreeze(child);
    }
    return value;
}

/** Evaluates `stack` with `options` once per process; every later call with equal options gets the same render (or the same failure). */
function evaluateOnce(stack: StackName, options: EvaluateOptions): Promise<StackRender> {
    const key = `${stack} ${canonical(options)}`;
    let rendered = cache.get(key);
    if (!rendered) {
        rendered = serial(() => evaluateStack(stack, options).then(deepFreeze));
        cache.set(key, rendered);
    }
    return rendered;
}

/** The stack as its Pulumi.<stack>.yaml defines it (evaluated once per process). Renders are shared and frozen: tests read them, never change them. */
export function render(stack: StackName): Promise<StackRender> {
    return evaluateOnce(stack, {});
}

/** The stack with config changes applied (evaluated once per process for equal changes and options, like `render`). */
export function renderWith(stack: StackName, config: ConfigOverrides, options: Omit<EvaluateOptions, "config"> = {}): Promise<StackRender> {
    return evaluateOnce(stack, { ...options, config });
}

/** Evaluates a variant that must fail; returns the error (with what was registered before it). */
export async function renderError(stack: StackName, config: ConfigOverrides): Promise<StackEvaluationError> {
    try {
        await renderWith(stack, config);
    } catch (err) {
        assert.ok(err instanceof StackEvaluationError, `expected a StackEvaluationError, got ${String(err)}`);
        return err;
    }
    assert.fail(`stack ${stack} with ${JSON.stringify(config)} evaluated, but it should have failed`);
}

/** The stack file's config merged with `patch` (deep for objects), as an override map. */
export function patchSection(stack: StackName, key: string, patch: Record<string, unknown>): ConfigOverrides {
    const current = stackFile(stack)[key] as Record<string, unknown> | undefined;
    return { [key]: deepMerge(current ?? {}, patch) };
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) {
        const b = base[k];
        out[k] =
            v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
                ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
                : v;
    }
    return out;
}

/** The raw `config:` map of Pulumi.<stack>.yaml. */
export function stackFile(stack: StackName): Record<string, unknown> {
    return (YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> }).config;
}

/** A RawConfig for config.parseConfig, from a stack file plus changes (`undefined` removes a key). */
export function rawConfig(stack: StackName, changes: Record<string, unknown> = {}): RawConfig {
    const file = { ...stackFile(stack), ...changes };
    const values: Record<string, unknown> = {};
    let awsRegion: string | undefined;
    for (const [key, value] of Object.entries(file)) {
        if (value === undefined) continue;
        if (key === "aws:region") awsRegion = value as string;
        else if (key.startsWith("cli-platform:")) values[key.slice("cli-platform:".length)] = value;
    }
    return { stack, values, awsRegion };
}

/** The parsed config of an AWS stack (dev, prod), narrowed to its AWS shape. */
export function awsConfig(raw: RawConfig): AwsPlatformConfig {
    const cfg = parseConfig(raw);
    assert.equal(cfg.target, "aws", `${raw.stack} is not an AWS stack`);
    return cfg as AwsPlatformConfig;
}

export function byType(r: StackRender, type: string): RecordedResource[] {
    return r.resources.filter((x) => x.type === type);
}

/** The one resource of `type` (and `name`, when given); fails when there is not exactly one. */
export function one(r: StackRender, type: string, name?: string): RecordedResource {
    const found = byType(r, type).filter((x) => name === undefined || x.name === name);
    assert.equal(found.length, 1, `expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
    return found[0];
}

export function byUrn(r: StackRender, urn: string): RecordedResource {
    const found = r.resources.find((x) => x.urn === urn);
    assert.ok(found, `no resource with URN ${urn}`);
    return found;
}

/** Parses a JSON-string input (IAM policy documents and the like). */
export function json<T = Record<string, unknown>>(value: unknown): T {
    assert.equal(typeof value, "string", `expected a JSON string, got ${JSON.stringify(value)}`);
    return JSON.parse(value as string) as T;
}

const AJV_OPTIONS = { strict: false, allErrors: true, validateFormats: false } as const;
/** `code.source` keeps each validator's generated code, which `crdSchemaValidator` caches. */
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const crdValidators = new Map<string, ValidateFunction>();
/** Compiled CRD validators (git-ignored), as ajv's standalone code, keyed by ajv's version, its options and the schema. */
const AJV_CACHE = path.join(ROOT, ".build", "ajv");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AJV_KEY = `ajv ${(require("ajv/package.json") as { version: string }).version} ${JSON.stringify(AJV_OPTIONS)}\n`;

/**
 * A validator from a committed CRD schema (tools/crd-schemas.ts), for kinds no @kubernetes-models package has.
 * Compiling Envoy Gateway's EnvoyProxy schema takes ajv ~1 s (2.9 MB of code), so the generated
 * code is kept in .build/ajv/ and loaded from there by later runs (~20 ms): the same code, so the
 * same verdicts and messages. A missing or unreadable entry is compiled again.
 */
function crdSchemaValidator(kind: string): ValidateFunction | undefined {
    if (!crdValidators.has(kind)) {
        const file = schemaPath(kind);
        if (!fs.existsSync(file)) return undefined;
        const text = fs.readFileSync(file, "utf8");
        const cached = path.join(AJV_CACHE, `${crypto.createHash("sha256").update(AJV_KEY).update(text).digest("hex")}.js`);
        let validate: ValidateFunction;
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            validate = require(cached) as ValidateFunction;
        } catch {
            validate = ajv.compile((JSON.parse(text) as { schema: object }).schema);
            try {
                // Write-then-rename: a concurrent run never loads half a file.
                fs.mkdirSync(AJV_CACHE, { recursive: true });
                const tmp = `${cached}.${process.pid}.tmp`;
                fs.writeFileSync(tmp, standaloneCode(ajv, validate));
                fs.renameSync(tmp, cached);
            } catch {
                // read-only checkout: the next run compiles again
            }
        }
        crdValidators.set(kind, validate);
    }
    return crdValidators.get(kind);
}

/**
 * Validates a Kubernetes object against the API schema (kubernetes-models; prometheus-operator,
 * cert-manager and Gateway API kinds through their @kubernetes-models packages; Envoy Gateway kinds
 * against the CRD schemas committed in tools/schemas). Throws on a schema error or an unknown kind.
 */
export function validateK8sObject(obj: Record<string, unknown>): void {
    const apiVersion = String(obj.apiVersion);
    const kind = String(obj.kind);
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [undefined, apiVersion];
    if (group === "gateway.envoyproxy.io") {
        const validate = crdSchemaValidator(kind);
        if (!validate) throw new Error(`no schema for ${apiVersion} ${kind} (run tools/crd-schemas.ts)`);
        const name = JSON.stringify((obj.metadata as Record<string, unknown> | undefined)?.name);
        if (!validate(obj)) throw new Error(`${kind} ${name}: ${ajv.errorsText(validate.errors, { dataVar: kind })}`);
        return;
    }
    const crdModels: Record<string, string> = {
        "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
        "cert-manager.io": "@kubernetes-models/cert-manager",
        "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
    };
    const base = (group && crdModels[group]) ?? "kubernetes-models";
    const modulePath = `${base}/${group ? `${group}/` : ""}${version}/${kind}`;
    let Model: new (o: unknown) => { validate(): void };
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        Model = (require(modulePath) as Record<string, new (o: unknown) => { validate(): void }>)[kind];
    } catch {
        throw new Error(`no schema model for ${apiVersion} ${kind} (${modulePath})`);
    }
    new Model(obj).validate();
}

export type Obj = Record<string, unknown>;

/** A recorded Kubernetes object's metadata. */
export function meta(r: RecordedResource): { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> } {
    return r.inputs.metadata as ReturnType<typeof meta>;
}

/** The one Kubernetes object of `type` whose metadata.name is `name`. */
export function named(r: StackRender, type: string, name: string): RecordedResource {
    const found = byType(r, type).filter((x) => meta(x).name === name);
    assert.equal(found.length, 1, `expected exactly one ${type} named ${name}, found ${found.length}`);
    return found[0];
}

/** The pod spec of a recorded workload (Deployment, StatefulSet, Job). */
export function podSpec(w: RecordedResource): {
    containers: Obj[];
    securityContext: Obj;
    volumes: Obj[];
    automountServiceAccountToken: boolean;
    terminationGracePeriodSeconds: number;
    topologySpreadConstraints: Obj[];
    runtimeClassName?: string;
} {
    return ((w.inputs.spec as Obj).template as Obj).spec as ReturnType<typeof podSpec>;
}
