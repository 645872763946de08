/**
 * What the config-message tests share: a stack file with changes parsed to its one-line
 * ConfigError (the test fails when it parses), and builders for the usual changes.
 */
import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config";
import { awsConfig, rawConfig, stackFile, type StackName } from "../harness";

/** One table row: a change to a stack's file and the exact message it must give. */
export interface MessageCase {
    title: string;
    stack: StackName;
    changes: () => Record<string, unknown>;
    message: string;
}

/** Parses the stack file with `changes` and returns the error message (fails if it parses). */
export function errorOf(stack: StackName, changes: Record<string, unknown>): string {
    try {
        parseConfig(rawConfig(stack, changes));
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        assert.ok(!err.message.includes("\n"), "config errors are one line");
        return err.message;
    }
    assert.fail(`stack ${stack} with ${JSON.stringify(changes)} parsed, but should not have`);
}

/** The stack file's section with `patch` applied shallowly, under its full key. */
export function section(stack: StackName, name: string, patch: Record<string, unknown>): Record<string, unknown> {
    const current = (stackFile(stack)[`cli-platform:${name}`] ?? {}) as Record<string, unknown>;
    return { [`cli-platform:${name}`]: { ...current, ...patch } };
}

/** The stack's node groups as it runs them (its own list, or the environment's default), the first one patched. */
export function nodeGroup(stack: StackName, patch: Record<string, unknown>): Record<string, unknown> {
    const nodeGroups = awsConfig(rawConfig(stack)).cluster.nodeGroups as unknown as Record<string, unknown>[];
    return section(stack, "cluster", { nodeGroups: [{ ...nodeGroups[0], ...patch }, ...nodeGroups.slice(1)] });
}

/** The stack file's service section with one workload (api or runner) patched. */
export function workload(stack: StackName, name: "api" | "runner", patch: Record<string, unknown>): Record<string, unknown> {
    const service = (stackFile(stack)["cli-platform:service"] ?? {}) as Record<string, Record<string, unknown>>;
    return section(stack, "service", { [name]: { ...service[name], ...patch } });
}

/** One test per row: the stack file with the row's changes fails with exactly the row's message. */
export function messageTests(cases: MessageCase[]): void {
    for (const c of cases) {
        it(`${c.title} (${c.stack})`, () => {
            assert.equal(errorOf(c.stack, c.changes()), `Invalid configuration for stack "${c.stack}": ${c.message}`);
        });
    }
}
