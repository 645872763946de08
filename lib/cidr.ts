/**
 * IPv4 CIDR arithmetic for subnet planning and validation.
 * Node's `net.isIPv4` does the parsing; the arithmetic is plain 32-bit math, small enough that a
 * dependency would cost more than it saves.
 */
import { isIPv4 } from "node:net";

export interface Cidr {
    /** Network address as an unsigned 32-bit integer. */
    base: number;
    /** Prefix length, 0..32. */
    prefix: number;
}

function toInt(ip: string): number {
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function toIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function size(prefix: number): number {
    return 2 ** (32 - prefix);
}

/** Parses `a.b.c.d/n`; returns undefined when it is not a valid IPv4 CIDR with host bits clear. */
export function parseCidr(text: string): Cidr | undefined {
    const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
    if (!match || !isIPv4(match[1])) return undefined;
    const prefix = Number(match[2]);
    if (prefix > 32) return undefined;
    const base = toInt(match[1]);
    if (base % size(prefix) !== 0) return undefined;
    return { base, prefix };
}

export function formatCidr(c: Cidr): string {
    return `${toIp(c.base)}/${c.prefix}`;
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
    return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner.prefix) <= outer.base + size(outer.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    return a.base < b.base + size(b.prefix) && b.base < a.base + size(a.prefix);
}

/** Terraform's `cidrsubnet`: the `index`-th block of `newBits` extra prefix bits inside `parent`. */
export function cidrSubnet(parent: Cidr, newBits: number, index: number): Cidr {
    const prefix = parent.prefix + newBits;
    if (prefix > 32) throw new Error(`cidrSubnet: /${parent.prefix} + ${newBits} bits exceeds /32`);
    if (index < 0 || index >= 2 ** newBits) throw new Error(`cidrSubnet: index ${index} does not fit in ${newBits} bits`);
    return { base: parent.base + index * size(prefix), prefix };
}

/**
 * The default subnet plan for a VPC: one private /(p+3) per AZ from the start of the range (room
 * for vpc-cni pod IPs), one public /(p+5) per AZ from the last quarter. Supports up to 6 AZs.
 */
export function defaultSubnetPlan(vpcCidr: string, azCount: number): { public: string[]; private: string[] } {
    const vpc = parseCidr(vpcCidr);
    if (!vpc) throw new Error(`defaultSubnetPlan: "${vpcCidr}" is not an IPv4 CIDR`);
    const range = Array.from({ length: azCount }, (_, i) => i);
    return {
        private: range.map((i) => formatCidr(cidrSubnet(vpc, 3, i))),
        public: range.map((i) => formatCidr(cidrSubnet(vpc, 5, 24 + i))),
    };
}
