"""URL slugs for article titles."""


def slugify(title: str, max_length: int = 40) -> str:
    """The slug for `title` (see docs/slug.md)."""
    raise NotImplementedError
