/**
 * What `pulumi up` / `preview` run (package.json `main`; Pulumi.yaml sets `typescript: false`, so
 * Pulumi does not load ts-node): the program in index.ts, compiled by the require hook in
 * tools/register.js. It stays in the project root's package (Pulumi.yaml has no `main`): Pulumi runs
 * the program from, and looks for provider plugins under, the directory `main` names.
 */
"use strict";
require("./register");
module.exports = require("../index.ts");
