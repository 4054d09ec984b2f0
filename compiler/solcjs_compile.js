// Standard-JSON bridge to solcjs (the `solc` npm package pinned in package.json).
// Reads the compiler input on stdin, writes the output on stdout. Imports are
// resolved by the Python driver beforehand, so no import callback is needed.
const path = require('path');
const solc = require(path.join(process.argv[2], 'solc'));
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
