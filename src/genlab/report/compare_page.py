"""The page of `genlab compare`: sample grids side by side, three tables that fit a laptop screen, plots."""

from __future__ import annotations

import base64
import html

from genlab.images import png_bytes
from genlab.report.html import STYLE

QUALITY = ("fid", "kid", "precision", "recall", "density", "coverage")
NOTE = ("A GAN has no encoder, so it cannot reconstruct data: its reconstruction cell says so rather than showing a "
        "number. Lower FID and KID are better; higher precision, recall, density, coverage and entropy are better.")


def _number(value: float, digits: int = 3) -> str:
    """Three significant digits, thousands separated: 0.00123, 45.6, 1,234."""
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _cell(stat: dict | None) -> str:
    if stat is None:
        return "—"
    text = _number(stat["mean"])
    return text + (f" ± {_number(stat['std'], 2)}" if stat["std"] is not None else "")


def tables(comparison: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the three tables: quality, diversity and reconstruction, cost and stability."""
    recipes = comparison["recipes"]
    quality = [[r["recipe"], str(len(r["seeds"])), *(_cell(r[name]) for name in QUALITY)] for r in recipes]
    spread = lambda r: _number(r["fid"]["max"] - r["fid"]["min"]) if r["fid"] and r["fid"]["n"] > 1 else "—"  # noqa: E731
    diversity = [[r["recipe"], _cell(r["entropy"]), _cell(r["largest_class"]),
                  _cell(r["psnr"]) if r["has_encoder"] else "none (no encoder)",
                  _cell(r["ssim"]) if r["has_encoder"] else "—"] for r in recipes]
    cost = [[r["recipe"], _cell(r["train_images_per_s"]), _cell(r["samples_per_s"]), f"{r['parameters']:,}", spread(r),
             str(r["unfinished_runs"]), str(r["collapse_events"])] for r in recipes]
    return [
        ("Sample quality", ["recipe", "seeds", "FID", "KID", "precision", "recall", "density", "coverage"], quality),
        ("Diversity and reconstruction", ["recipe", "class entropy", "largest class", "PSNR (dB)", "SSIM"], diversity),
        ("Cost and stability", ["recipe", "train img/s", "samples/s", "parameters", "FID spread", "unfinished runs",
                                "collapse events"], cost),
    ]


def _caption(comparison: dict) -> str:
    return (f"{comparison['samples']:,} samples per run, seed {comparison['seed']}; feature space: "
            f"{comparison['feature_space']}. Mean ± standard deviation over seeds. Speeds: "
            f"{comparison.get('speed_protocol', 'as recorded')}.")


def to_markdown(comparison: dict) -> str:
    lines = [f"# Comparison on {comparison['data']}", "", _caption(comparison), ""]
    for title, header, rows in tables(comparison):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows] + [""]
    return "\n".join([*lines, NOTE, ""])


def to_html(comparison: dict, grids: dict[str, bytes] | None = None) -> str:
    data = html.escape(str(comparison["data"]))
    sections = []
    if grids:
        figures = "".join(_figure(png, f"{name}: samples") for name, png in grids.items() if png)
        sections.append(f"<h2>Samples</h2><div class='grids'>{figures}</div>")
    for title, header, rows in tables(comparison):
        table = ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                 + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
                 + "</table>")
        sections.append(f"<h2>{html.escape(title)}</h2><div class='scroll'>{table}</div>")
    sections.append("".join(_figure(png, alt) for png, alt in _plots(comparison)))
    style = STYLE + (".grids { display: flex; flex-wrap: wrap; gap: 16px; } .grids img { width: 224px; } "
                     ".scroll { overflow-x: auto; } td { white-space: nowrap; }")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width'><title>genlab comparison: {data}</title><style>{style}</style></head><body>"
            f"<h1>Comparison on {data}</h1><p class='note'>{html.escape(_caption(comparison))}</p>{''.join(sections)}"
            f"<p class='note'>{html.escape(NOTE)}</p></body></html>")


def _figure(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"
            f"<figcaption>{html.escape(alt)}</figcaption></figure>")


def _plots(comparison: dict) -> list[tuple[str, str]]:
    # matplotlib takes about half a second to import: only when a plot is drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recipes = [r for r in comparison["recipes"] if r["fid"]]
    if not recipes:
        return []
    figures = []
    figure = Figure(figsize=(6.4, 0.5 + 0.45 * len(recipes)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    names = [r["recipe"] for r in recipes]
    axes.barh(names, [r["fid"]["mean"] for r in recipes], xerr=[r["fid"]["std"] or 0 for r in recipes], color="tab:blue")
    axes.invert_yaxis()
    axes.set_xlabel("FID (lower is better); bars: spread over seeds")
    figure.tight_layout()
    figures.append((png_bytes(figure), "FID by recipe"))
    if all(r["precision"] and r["recall"] for r in recipes):
        figure = Figure(figsize=(5.0, 4.2), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for r in recipes:
            axes.scatter(r["recall"]["mean"], r["precision"]["mean"], s=40)
            axes.annotate(r["recipe"], (r["recall"]["mean"], r["precision"]["mean"]), fontsize=8, xytext=(4, 4),
                          textcoords="offset points")
        axes.set_xlabel("recall (diversity)")
        axes.set_ylabel("precision (fidelity)")
        axes.set_xlim(0, 1.05)
        axes.set_ylim(0, 1.05)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        figures.append((png_bytes(figure), "precision against recall"))
    return figures
