// Writes dist/constants.json from the addon: the names and numbers the TypeScript wrapper
// shares with Rust, so that the wrapper has them on platforms without an addon too.
const fs = require("node:fs");
const path = require("node:path");

const dir = path.resolve(__dirname, "..");
const { constants } = require(path.join(dir, "binding.cjs"));
fs.writeFileSync(path.join(dir, "dist", "constants.json"), `${JSON.stringify(constants(), null, 2)}\n`);
