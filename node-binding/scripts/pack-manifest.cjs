// The published package's manifest: the workspace one without its dev-only fields, with one
// optional dependency per platform package the napi CLI generated (npm installs the one that
// matches the machine).
// Usage: node pack-manifest.cjs <package.json> <npm platform dirs> <out package.json>
const fs = require("node:fs");

const [source, platforms, out] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(source, "utf8"));
delete pkg.devDependencies;
delete pkg.scripts;
pkg.optionalDependencies = Object.fromEntries(
  fs.readdirSync(platforms).map((dir) => [`${pkg.name}-${dir}`, pkg.version]),
);
fs.writeFileSync(out, `${JSON.stringify(pkg, null, 2)}\n`);
