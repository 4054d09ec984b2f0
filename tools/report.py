"""``ml2sc validate --report report.html``: a validation run as one self-contained HTML page.

The validate table says pass or fail; whoever decides to deploy also wants to see where
the gas goes, how far the contract's numbers are from the float model's, whether any
decision changed, and what deployment will send. The page holds all of that with no
network dependency (inline CSS, inline SVG from ``report_svg.py``, no script), so it can
be attached to a review or opened offline later and look the same.

``render`` is a pure function of ``ReportData`` (gathered by ``report_data.collect``);
every figure is labelled measured (this run's receipts) or estimated (the cost model).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import numpy as np

from ml2sc.ir.errors import Ml2scError
from ml2sc.tools import report_svg as svg
from ml2sc.tools.report_data import LayerCost, ReportData

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;background:#f4f6f8;color:#1d2329}
main{max-width:1160px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px;border-bottom:1px solid #dde2e7;padding-bottom:6px}
h3{font-size:14px;margin:14px 0 6px}
section{background:#fff;border:1px solid #dde2e7;border-radius:8px;padding:16px 20px;margin:16px 0}
.sub{color:#5b6570;font-size:13px}
.verdict{display:inline-block;padding:3px 12px;border-radius:12px;font-weight:600;color:#fff;font-size:14px;vertical-align:middle;margin-left:8px}
.pass{background:#2e8b57}.fail{background:#c0392b}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid #dde2e7;border-radius:8px;padding:10px 14px}
.card .v{font-size:20px;font-weight:600}.card .k{font-size:12px;color:#5b6570}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;width:100%}
th,td{border-bottom:1px solid #e6e9ec;padding:5px 8px;text-align:left}th{background:#f0f3f6;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.tag{font-size:11px;padding:1px 7px;border-radius:9px;color:#fff;white-space:nowrap}
.measured{background:#2f6fb0}.estimated{background:#d08a1e}
.row{display:flex;flex-wrap:wrap;gap:18px 28px;align-items:flex-start}
pre{background:#1e252c;color:#e8edf1;padding:12px 14px;border-radius:6px;font-size:13px;white-space:pre-wrap;overflow-wrap:anywhere}
.note{font-size:12px;color:#5b6570;margin:4px 0}.no{color:#c0392b;font-weight:600}
"""

MEASURED = '<span class="tag measured">measured</span>'
ESTIMATED = '<span class="tag estimated">estimated</span>'
NO = '<span class="no">NO</span>'


def render(d: ReportData) -> str:
    """The whole page: summary, accuracy, gas, deployment plan, how to reproduce it."""
    title = f"{d.contract} ({d.backend}): validation report"
    return "".join((
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<style>{CSS}</style></head><body><main>",
        _summary(d), _accuracy(d), _gas(d), _plan(d), _reproduce(d),
        "</main></body></html>\n",
    ))


def write_report(path: str, data: ReportData) -> None:
    """Write the page; an unwritable path is the user's mistake, reported in one line."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(data))
    except OSError as e:
        raise Ml2scError(f"cannot write the report to '{path}': {e.strerror}") from None


# ------------------------------------------------------------------------ helpers
def _n(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def _table(head: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    def cell(tag: str, i: int, c: str) -> str:
        return f'<{tag} class="{"n" if i in numeric else ""}">{c}</{tag}>'

    th = "".join(cell("th", i, h) for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _agreed(d: ReportData) -> int | None:
    c = d.decisions
    return None if c is None else sum(c.matrix[i][i] for i in range(len(c.classes)))


# ----------------------------------------------------------------------- sections
def _summary(d: ReportData) -> str:
    v = d.validation
    verdict = '<span class="verdict pass">PASS</span>' if v.ok else '<span class="verdict fail">FAIL</span>'
    errors = [o.max_abs_error for o in v.outputs if o.max_abs_error is not None]
    agreed = _agreed(d)
    gas = d.inference_gas
    cards = [
        (f"{v.evm_equals_simulator:,}/{v.rows:,}", "rows where the EVM equals the simulator"),
        ("–" if not errors else f"{max(errors):.3g}", "max abs error vs onnxruntime"),
        ("regressor" if agreed is None else f"{100 * agreed / max(v.rows, 1):.2f}%", "decisions equal to the float model's"),
        (f"{sum(t.gas for t in d.transactions):,}", "deployment gas, all transactions (measured)"),
        ("–" if not gas else f"{sum(gas) / len(gas):,.0f}", "gas per inference transaction, mean (measured)"),
        (f"{len(d.transactions)}", "deployment transactions"),
    ]
    card_html = "".join(f'<div class="card"><div class="v">{escape(a)}</div><div class="k">{escape(b)}</div></div>'
                        for a, b in cards)
    return (f"<header><h1>{escape(d.contract)} {verdict}</h1>"
            f'<div class="sub">backend <b>{escape(d.backend)}</b> · chain {escape(d.chain)} · {v.rows:,} rows · '
            f"oracle onnxruntime in {escape(v.precision)} · {escape(d.version)} · {escape(d.generated)}</div>"
            f'<div class="cards">{card_html}</div></header>')


def _rule(d: ReportData) -> str:
    if not d.quantized:
        return f"outputs pass within atol {d.atol:g} + rtol {d.rtol:g}·|onnxruntime|; decisions must all agree"
    rule = f"quantized outputs pass on decisions: agreement ≥ {100 * d.min_agreement:g}% (errors reported only)"
    calibration = getattr(d.validation, "calibration_agreement", None)  # what compile measured on --data
    if calibration is not None:
        rule += f"; at compile time {100 * calibration:.2f}% of the calibration rows decided as the float model"
    return rule


def _accuracy(d: ReportData) -> str:
    v = d.validation
    rows = [["(all rows)", "EVM == simulator", "", "", f"{v.evm_equals_simulator:,}/{v.rows:,}",
             "yes" if v.evm_equals_simulator == v.rows else NO]]
    rows += [[escape(o.name), o.kind, "" if o.max_abs_error is None else f"{o.max_abs_error:.3g}",
              "" if o.max_rel_error is None else f"{o.max_rel_error:.3g}",
              "" if o.agreement is None else f"{100 * o.agreement:.2f}%", "yes" if o.ok else NO] for o in v.outputs]
    charts = [_histogram(d, name, got, ref) for name, (got, ref) in v.values.items()
              if not np.issubdtype(np.asarray(ref).dtype, np.integer)]
    c = d.decisions
    if c is None:
        note = f"No confusion matrix: {escape(d.decisions_note)}."
    else:
        charts.append(svg.confusion("confusion", f"decisions ({c.rule}): {_agreed(d):,}/{v.rows:,} agree", c.classes, c.matrix))
        note = (f"Confusion matrix: rows are the float model's decision (onnxruntime), columns the contract's, from "
                f"{escape(c.rule)}; off-diagonal cells are changed decisions.")
    return (f'<section id="accuracy"><h2>Accuracy {MEASURED}</h2><p class="note">{escape(_rule(d))}.</p>'
            + _table(["output", "kind", "max abs error", "max rel error", "agreement", "ok"], rows, {2, 3, 4})
            + f'<div class="row">{"".join(charts)}</div><p class="note">{note}</p></section>')


def _histogram(d: ReportData, name: str, got: np.ndarray, ref: np.ndarray) -> str:
    err = np.abs(np.asarray(got, np.float64).reshape(np.shape(ref)) - np.asarray(ref, np.float64)).ravel()
    return svg.error_histogram("error-histogram", f"'{name}': on chain vs onnxruntime ({err.size:,} values)",
                               err.tolist(), None if d.quantized else d.atol)


def _gas(d: ReportData) -> str:
    e, gas = d.estimate, d.validation.gas
    txs = d.transactions
    upload = sum(t.gas for t in txs if t.kind == "setup call")
    inference = d.inference_gas
    compare = [
        ["deployment, all contracts", _n(sum(t.gas for t in txs if t.kind != "setup call")), _n(e.deploy)],
        ["setup calls after deployment", _n(upload) if upload else "–", _n(e.upload)],
        ["model runtime code (bytes)", _n(next((t.code_bytes for t in txs if t.kind == "model contract"), None)),
         _n(e.runtime_bytes)],
        ["inference transaction, mean", _n(sum(inference) / len(inference)) if inference else "–", _n(e.inference)],
        ["↳ of which EVM execution, mean", _n(gas.get("inference_exec_gas_mean")), _n(e.inference_exec)],
        ["inference transaction, min – max", f"{min(inference):,} – {max(inference):,}" if inference else "–", ""],
    ]
    if gas.get("inference_transactions_per_row", 1) > 1:  # a layered model over several transactions a row
        compare.append(["inference transactions per row", str(gas["inference_transactions_per_row"]), ""])
        compare.append(["inference gas per row, mean", _n(gas.get("inference_gas_per_row_mean")), ""])
    return ('<section id="gas"><h2>Gas</h2>'
            + _table(["", f"gas {MEASURED}", f"gas {ESTIMATED}"], compare, {1, 2})
            + '<p class="note">Measured: gas_used of this run\'s receipts (every transaction includes its 21,000 base). '
              f"Estimated: the {escape(d.backend)} backend's fitted cost model (<code>ml2sc estimate --fitted</code>: it splits a total into layers; the counted <code>ml2sc estimate</code> prices the whole plan), no chain.</p>"
            + _layers(e.layers, e.unavailable) + "</section>")


def _layers(layers: list[LayerCost], unavailable: str | None) -> str:
    """Two bar charts (deployment, inference) and the table of the estimated per-layer split."""
    if not layers:
        return f'<p class="note">No per-layer split: {escape(unavailable or "no estimate")}.</p>'
    uploads = any(c.upload for c in layers)

    def bars(value: Callable[[LayerCost], float | None]) -> list[tuple[str, float, str]]:
        out = []
        for c in layers:
            v = value(c)
            if v is None or (c.label == "input" and not v):  # the input's conversion usually costs nothing
                continue
            shared = c.label == "contract-wide"
            out.append((c.label if shared else f"{c.label}: {c.ops.split(', ')[0]}", v, svg.SHARED if shared else svg.ESTIMATED))
        return out

    deploy_title = "deployment + setup gas per layer (estimated)" if uploads else "deployment gas per layer (estimated)"
    charts = (svg.hbars("gas-per-layer-deploy", deploy_title,
                        bars(lambda c: None if c.deploy is None else c.deploy + (c.upload or 0)))
              + svg.hbars("gas-per-layer-inference", "inference execution gas per layer (estimated)",
                          bars(lambda c: c.inference_exec)))
    head = ["layer", "ops", "deployment gas", *(["setup-call gas"] if uploads else []), "inference execution gas", "code bytes"]
    rows = [[escape(c.label), escape(c.ops), _n(c.deploy), *([_n(c.upload)] if uploads else []), _n(c.inference_exec),
             _n(c.runtime_bytes)] for c in layers]
    return (f'<div class="row">{charts}</div><h3>Per layer {ESTIMATED}</h3>' + _table(head, rows, set(range(2, len(head))))
            + '<p class="note">The EVM reports gas per transaction, not per layer: a layer\'s share is the backend\'s '
              "fitted cost model for the whole contract minus its prediction without that layer's ops; what no single "
              "layer owns (contract shell, dispatch, input decoding, code shared by several layers) is the contract-wide "
              "row. The shares sum to the estimated totals above.</p>")


def _plan(d: ReportData) -> str:
    txs = d.transactions
    rows = [[str(k + 1), escape(t.kind), escape(t.name), _n(t.code_bytes), _n(t.gas) if t.gas else "0 (reused)"]
            for k, t in enumerate(txs)]
    rows.append(["", "", "<b>total</b>", _n(sum(t.code_bytes or 0 for t in txs)), f"<b>{sum(t.gas for t in txs):,}</b>"])
    bars = [(t.name, float(t.gas), svg.SHARED if t.kind == "setup call" else svg.MEASURED) for t in txs]
    return (f'<section id="plan"><h2>Deployment plan {MEASURED}</h2>'
            '<p class="note">The transactions that deploying this model sends, in order: data contracts first, then the '
            "model contract (its constructor takes their addresses), then any setup calls.</p>"
            + _table(["#", "transaction", "contract", "code bytes", "gas"], rows, {0, 3, 4})
            + svg.hbars("gas-per-contract", "deployment gas per transaction (measured)", bars, width=760) + "</section>")


def _reproduce(d: ReportData) -> str:
    return (f'<section id="reproduce"><h2>Reproduce</h2><pre><code>cd {escape(d.cwd)}\n{escape(d.command)}</code></pre>'
            f'<p class="note">{escape(d.version)}. Every figure above comes from this one run: the receipts of its '
            "transactions, onnxruntime on the same rows and the backend's cost model.</p></section>")
