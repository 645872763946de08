export * from "./autoscaler";
export * from "./cluster";
export * from "./iam";
export * from "./network";
export * from "./versions";
