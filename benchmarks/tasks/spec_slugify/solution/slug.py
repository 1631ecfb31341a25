"""URL slugs for article titles."""

import re


def slugify(title: str, max_length: int = 40) -> str:
    """The slug for `title` (see docs/slug.md)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:max_length].rstrip("-")
