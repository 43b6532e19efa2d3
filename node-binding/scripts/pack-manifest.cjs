// The published package's manifest: the workspace one without its dev-only fields, with one
// optional dependency per platform package the napi CLI generated (npm installs the one that
// matches the machine); and the platform packages' own manifests completed with the metadata.
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
// Each platform package carries the same metadata and the licence texts.
for (const dir of fs.readdirSync(platforms)) {
  const file = `${platforms}/${dir}/package.json`;
  const platform = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const key of ["repository", "homepage", "bugs", "keywords"]) platform[key] = pkg[key];
  platform.files = [...new Set([...(platform.files ?? []), "README.md", "LICENSE-MIT", "LICENSE-APACHE"])];
  fs.writeFileSync(file, `${JSON.stringify(platform, null, 2)}\n`);
}
