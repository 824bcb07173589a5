from collections.abc import Callable

from lxml import etree

from adapters.iso20022.xmlread import Stops, Table

class Walker:
    def __init__(
        self, namespace: str, stops: Stops, fallback: Callable[[etree._Element], Table]
    ) -> None: ...
    def walk(self, element: etree._Element) -> Table: ...
