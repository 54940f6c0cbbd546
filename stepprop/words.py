"""How a message words a count ('1 epoch', '2 epochs', '3 batches') and shows a user's text."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: count(1, "epoch") is
    '1 epoch', count(10_000, "epoch") is '10000 epochs'; ``plural`` where
    adding 's' is not the plural (count(2, "batch", "batches"))."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def show(text: str, limit: int = 40) -> str:
    """User text for a one-line message: shortened, with invisible characters escaped."""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
