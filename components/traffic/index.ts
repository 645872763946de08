export * from "./cert-manager";
export * from "./external-dns";
export * from "./gateway";
export * from "./load-balancer-controller";
export * from "./route";
export * from "./traffic";
