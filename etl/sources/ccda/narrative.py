"""CDA narrative block (``section/text``, CDA R2 §4.3.5) → FHIR xhtml (``Narrative.div``).

FHIR R4 narrative rules (https://hl7.org/fhir/R4/narrative.html#xhtml): a ``div`` in the XHTML
namespace, only basic HTML elements, no scripts, no event attributes, no external references
except plain links. CDA tags map to their XHTML twins: ``content``→``span``, ``paragraph``→``p``,
``list``→``ul``/``ol``, ``item``→``li``, ``linkHtml``→``a``, ``caption``/``table`` family and
``br``/``sub``/``sup`` keep their names, ``footnote``/``footnoteRef`` become ``span``, and
``renderMultiMedia`` (a pointer to an observationMedia, not inline content) becomes its caption
or nothing. A ``caption`` is an XHTML ``caption`` only as a table's child; elsewhere it is a ``p``
where block content may stand and a ``span`` inside inline content (a CDA ``paragraph`` may open
with a caption, and XHTML allows no ``p`` inside a ``p``). ``ID`` → ``id``, ``styleCode`` → ``class``; other attributes are dropped.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from etl.sources.ccda.model import V3_NS, Element

XHTML_NS = "http://www.w3.org/1999/xhtml"

_TAGS: dict[str, str] = {
    "content": "span", "paragraph": "p", "item": "li", "linkHtml": "a", "caption": "caption",
    "table": "table", "thead": "thead", "tbody": "tbody", "tfoot": "tfoot", "tr": "tr", "td": "td",
    "th": "th", "col": "col", "colgroup": "colgroup", "br": "br", "sub": "sub", "sup": "sup",
    "footnote": "span", "footnoteRef": "span", "text": "div",
}
_CELL_ATTRS = {"colspan", "rowspan", "align", "valign", "span", "width", "scope", "headers", "abbr"}
_VOID = {"br", "col"}


def to_xhtml(el: Element) -> str | None:
    """The narrative as a FHIR ``div`` string; None when it has no text content (FHIR txt-2)."""
    body = _children(el, in_table=False)
    if not body.strip() or not "".join(el.itertext()).strip():
        return None
    return f'<div xmlns="{XHTML_NS}">{body}</div>'


# XHTML elements whose content model is inline only (no p, ul, table inside).
_INLINE_ONLY = frozenset({"p", "span", "a", "sub", "sup", "caption", "th"})


def _children(el: Element, in_table: bool, parent: str = "div") -> str:
    out = [escape(el.text)] if el.text else []
    for child in el:
        if isinstance(child.tag, str):
            out.append(_element(child, in_table, parent))
        if child.tail:
            out.append(escape(child.tail))
    return "".join(out)


def _element(el: Element, in_table: bool, parent: str = "div") -> str:
    tag = el.tag
    name = tag[len(V3_NS) + 2:] if tag.startswith(f"{{{V3_NS}}}") else tag.rsplit("}", 1)[-1]
    if name == "renderMultiMedia":
        caption = el.find(f"{{{V3_NS}}}caption")
        return f"<span>{_children(caption, in_table, 'span')}</span>" if caption is not None else ""
    if name == "list":
        html = "ol" if (el.get("listType") or "").lower() == "ordered" else "ul"
        items, caption = [], ""
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if child.tag.endswith("}caption"):
                # ul has no caption element; a p, unless the list itself sits in inline content
                tag = "span" if parent in _INLINE_ONLY else "p"
                caption = f"<{tag}>{_children(child, in_table, tag)}</{tag}>"
            else:
                items.append(_element(child, in_table, html))
        return f"{caption}<{html}{_attrs(el, html)}>{''.join(items)}</{html}>"
    html = _TAGS.get(name, "span")
    if name == "caption" and parent != "table":
        html = "span" if parent in _INLINE_ONLY else "p"
    if html in _VOID:
        return f"<{html}{_attrs(el, html)}/>"
    inner = _children(el, in_table or html == "table", html)
    return f"<{html}{_attrs(el, html)}>{inner}</{html}>"


def _attrs(el: Element, html: str) -> str:
    out = []
    ident = el.get("ID")
    if ident:
        out.append(f" id={quoteattr(ident)}")
    style = el.get("styleCode")
    if style:
        out.append(f" class={quoteattr(style)}")
    if html == "a":
        href = (el.get("href") or "").strip()
        if href and not href.lower().startswith(("javascript:", "data:", "vbscript:")):
            out.append(f" href={quoteattr(href)}")
    if html in ("td", "th", "col", "colgroup", "table"):
        for key in sorted(_CELL_ATTRS | {"border", "cellpadding", "cellspacing", "summary"}):
            v = el.get(key)
            if v and (html != "table" or key in ("border", "cellpadding", "cellspacing", "summary", "width")):
                out.append(f" {key}={quoteattr(v)}")
    return "".join(out)
