"""What the tourist wants, read from an inquiry's words: pure text → data, offline.

Owns the wish (``model``: destination, departure city, dates, nights, adults, children,
budget, hotel stars, meal, flexible dates; each found value with the words it was read
from), one parser module per field (``places``, ``dates``, ``nights``, ``travellers``,
``budget``, ``hotel``), form fields by their names (``fields``), the whole message
(``parse``: ``parse_text``, ``parse_fields``) and how a later message refines an
earlier wish (``merge``). The U-ON export of a wish (``uon``) and its one-line
summary for people (``summary``) are here too, being pure functions of the wish.

May import: the standard library, pymorphy3, pydantic (a manager's edit, ``edit``) and
``daemon.domain``. Nothing that touches a database or the network: the inquiry projector,
the lookup and the lead API call it.
"""
