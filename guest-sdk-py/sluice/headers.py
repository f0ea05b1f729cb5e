"""HTTP headers as an ordered list whose names compare case-insensitively."""

from typing import Iterable, Iterator, List, Optional, Tuple


class Headers:
    """HTTP headers in order. Names compare case-insensitively, as HTTP says;
    a name may appear more than once (``Set-Cookie``).

    Iterating yields ``(name, value)`` pairs in order, names as written.
    """

    def __init__(self, pairs: Iterable[Tuple[str, str]] = ()):
        """Headers from ``(name, value)`` pairs, or from a dict's ``items()``."""
        self._entries: List[Tuple[str, str]] = []
        for name, value in pairs:
            self.append(name, value)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of ``name``, or ``default`` when there is none."""
        wanted = name.lower()
        for entry_name, value in self._entries:
            if entry_name.lower() == wanted:
                return value
        return default

    def get_all(self, name: str) -> List[str]:
        """Every value of ``name``, in order."""
        wanted = name.lower()
        return [value for entry_name, value in self._entries if entry_name.lower() == wanted]

    def set(self, name: str, value: str) -> None:
        """Sets ``name`` to ``value``, replacing every earlier value."""
        self.remove(name)
        self.append(name, value)

    def append(self, name: str, value: str) -> None:
        """Adds a value for ``name``, keeping earlier ones."""
        # The host takes strings only; a number slipping in here would fail
        # far from the line that put it there.
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"header name and value must be str, got {type(name).__name__} and {type(value).__name__}"
            )
        self._entries.append((name, value))

    def remove(self, name: str) -> bool:
        """Removes every value of ``name``; returns whether there was one."""
        wanted = name.lower()
        before = len(self._entries)
        self._entries = [entry for entry in self._entries if entry[0].lower() != wanted]
        return len(self._entries) != before

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is present: ``"content-type" in headers``."""
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        """The ``(name, value)`` pairs, in order."""
        return iter(list(self._entries))

    def __len__(self) -> int:
        """How many header lines there are."""
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._entries == other._entries

    def __repr__(self) -> str:
        return f"Headers({self._entries!r})"
