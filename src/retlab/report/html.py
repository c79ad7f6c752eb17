"""Markdown -> one self-contained HTML page: PNGs embedded as base64, styles inline, no server, no network."""

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 0; }}
  main {{ max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px; }}
  h1 {{ border-bottom: 2px solid #d0d7de; padding-bottom: 8px; }}
  h2 {{ margin-top: 40px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }}
  nav {{ background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px; }}
  nav a {{ margin-right: 14px; white-space: nowrap; }}
  table {{ border-collapse: collapse; margin: 12px 0; font-size: 13px; font-variant-numeric: tabular-nums; }}
  th, td {{ border: 1px solid #d0d7de; padding: 4px 10px; }}
  th {{ background: #f6f8fa; }}
  td[style*="right"], td:first-child {{ white-space: nowrap; }}  /* a figure or a name is never broken */
  table {{ display: block; max-width: 100%; overflow-x: auto; }}
  tr:nth-child(even) td {{ background: #fbfcfd; }}
  img {{ max-width: 100%; border: 1px solid #eaeef2; }}
  p:has(img) {{ display: flex; flex-wrap: wrap; gap: 12px; }}
  p img {{ width: calc(50% - 8px); height: auto; }}
  p img:only-child {{ width: auto; max-width: 100%; }}
  code {{ background: #f6f8fa; padding: 0 2px; border-radius: 4px; white-space: nowrap; }}
  em {{ color: #57606a; }}
</style>
</head>
<body><main>
{body}
</main></body>
</html>
"""


def render_html(markdown: str, base_dir: Path, title: str) -> str:
    """The page for `markdown`, whose images are paths relative to `base_dir`."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    body, headings = _anchor_headings(body)
    body = re.sub(r'<img src="([^"]+)"', lambda m: f'<img src="{_data_uri(base_dir / m.group(1))}"', body)
    links = " ".join(f'<a href="#{slug}">{text}</a>' for slug, text in headings)
    if links:  # a table of contents under the title
        body = body.replace("</h1>", f"</h1>\n<nav>{links}</nav>", 1)
    return TEMPLATE.format(title=html.escape(title), body=body)


def _anchor_headings(body: str) -> tuple[str, list[tuple[str, str]]]:
    headings = []

    def anchor(match: re.Match) -> str:
        text = match.group(1)
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"<[^>]+>", "", text).lower()).strip("-")
        headings.append((slug, text))
        return f'<h2 id="{slug}">{text}</h2>'

    return re.sub(r"<h2>(.*?)</h2>", anchor, body), headings


def _data_uri(path: Path) -> str:
    if not path.is_file():
        return html.escape(path.name)  # a broken image shows its name instead of failing the report
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
