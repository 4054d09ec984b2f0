// Attach to an ml2sc deployment from its record with ethers v6 (a client ml2sc did not write) and
// call it: the record's address, ABI and code hash are all it needs.
// usage: node ethers_attach.js RECORD.json RPC_URL ROWS.json   (rows: the contract's integers, as strings)
// prints one JSON line: chain id, code hash, model hash, predict/classify results, a decoded custom error.
"use strict";
const fs = require("fs");
const { ethers } = require("ethers");

async function main() {
  const [recordPath, rpcUrl, rowsPath] = process.argv.slice(2);
  const record = JSON.parse(fs.readFileSync(recordPath, "utf8"));
  const rows = JSON.parse(fs.readFileSync(rowsPath, "utf8")).map((row) => row.map(BigInt));
  const provider = new ethers.JsonRpcProvider(rpcUrl);
  const network = await provider.getNetwork();
  if (network.chainId !== BigInt(record.chainId)) {
    throw new Error(`record is for chain ${record.chainId}, the node is chain ${network.chainId}`);
  }
  const codeHash = ethers.keccak256(await provider.getCode(record.address));
  if (codeHash !== record.codeHash) {
    throw new Error(`code at ${record.address} hashes to ${codeHash}, the record says ${record.codeHash}`);
  }
  const model = new ethers.Contract(record.address, record.abi, provider);
  const outputs = [];
  const labels = [];
  for (const row of rows) {
    outputs.push(Array.from(await model.predict.staticCall(row), String));
    labels.push(String(await model.classify.staticCall(row)));
  }
  let error = null; // a row one value short: ethers names the custom error from the record's ABI
  try {
    await model.classify.staticCall(rows[0].slice(1));
  } catch (e) {
    error = e.revert ? `${e.revert.name}(${e.revert.args.map(String).join(", ")})` : `undecoded: ${e.shortMessage}`;
  }
  const modelHash = await model.modelHash();
  provider.destroy();
  console.log(JSON.stringify({ chainId: String(network.chainId), codeHash, modelHash, outputs, labels, error }));
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
