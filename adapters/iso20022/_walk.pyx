# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled twin of ``xmlread.ReferenceWalker``: an element's subtree as text tables.

The walk reads libxml2's node structs through lxml's public C API (fields only, no
libxml2 function is called: lxml may link libxml2 statically) and builds exactly the
tables the reference walk builds with lxml's Python API; see ``xmlread`` for what a table
holds. A subtree the compiled walk does not handle itself (an attribute value holding
anything but text) is walked by the reference walk instead, whole.
"""

from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp, memcpy, strcmp, strlen

from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Element, import_lxml__etree

import_lxml__etree()


class _Unusual(Exception):
    """A subtree holding a node the compiled walk leaves to the reference walk."""


cdef class _Level:
    """One relative path of a kind of subtree: the children seen under it, the last text
    read there (texts repeat from subtree to subtree; one string object serves them all)."""

    cdef bytes name  # the element's local name, UTF-8
    cdef str path
    cdef list kids  # the _Level of each child name met so far
    cdef Py_ssize_t hint  # where the next lookup among ``kids`` starts
    cdef list attributes  # [(name, "path/@name")]
    cdef _Level sub  # root of this path's own tables (a stop), else None
    cdef dict stops  # on table roots: relative path -> stops below it
    cdef unsigned long long stamp  # the table this path was last recorded in
    cdef char* last
    cdef size_t last_size
    cdef size_t last_capacity
    cdef object last_text

    def __cinit__(self) -> None:
        self.kids = []
        self.attributes = []
        self.last = NULL
        self.last_size = 0
        self.last_capacity = 0
        self.last_text = None
        self.stamp = 0
        self.hint = 0

    def __dealloc__(self) -> None:
        free(self.last)

    cdef _Level kid(self, const char* name, _Level root):
        cdef Py_ssize_t count = PyList_GET_SIZE(self.kids)
        cdef Py_ssize_t index = self.hint
        cdef Py_ssize_t tries
        cdef _Level found
        for tries in range(count):
            if index >= count:
                index = 0
            found = <_Level>PyList_GET_ITEM(self.kids, index)
            if strcmp(<const char*>found.name, name) == 0:
                self.hint = index + 1
                return found
            index += 1
        found = _Level()
        found.name = <bytes>name
        text = found.name.decode("utf-8")
        found.path = text if self.path is None else f"{self.path}/{text}"
        substops = root.stops.get(found.path)
        if substops is not None:
            found.sub = _root(substops)
        self.kids.append(found)
        self.hint = count + 1
        return found

    cdef str attribute_key(self, const char* name):
        cdef tuple pair
        for pair in self.attributes:
            if strcmp(<const char*>(<bytes>pair[0]), name) == 0:
                return <str>pair[1]
        raw = <bytes>name
        key = f"{self.path}/@{raw.decode('utf-8')}"
        self.attributes.append((raw, key))
        return key

    cdef object text_of(self, const char* content):
        cdef size_t size = strlen(content)
        if (
            self.last_text is not None
            and size == self.last_size
            and (size == 0 or memcmp(content, self.last, size) == 0)
        ):
            return self.last_text
        text = PyUnicode_DecodeUTF8(content, <Py_ssize_t>size, NULL)
        if size == 0:
            self.last_size = 0
            self.last_text = text
            return text
        if size > self.last_capacity:
            grown = <char*>realloc(self.last, size)
            if grown is NULL:
                self.last_text = None
                return text
            self.last = grown
            self.last_capacity = size
        memcpy(self.last, content, size)
        self.last_size = size
        self.last_text = text
        return text


cdef _Level _root(object stops):
    cdef _Level level = _Level()
    level.path = None
    level.stops = {str(path): below for path, below in stops.items()}
    return level


cdef inline tree.xmlNode* _text_node(tree.xmlNode* node) noexcept:
    """``node`` or the first text node after XInclude markers, NULL at any other node."""
    while node is not NULL:
        if node.type == tree.XML_TEXT_NODE or node.type == tree.XML_CDATA_SECTION_NODE:
            return node
        if node.type == tree.XML_XINCLUDE_START or node.type == tree.XML_XINCLUDE_END:
            node = node.next
        else:
            return NULL
    return NULL


cdef object _text(_Level level, tree.xmlNode* element):
    """What lxml's ``element.text`` gives: the run of text nodes before the first child."""
    cdef tree.xmlNode* node = _text_node(element.children)
    cdef bytes joined
    if node is NULL:
        return None
    if _text_node(node.next) is NULL:
        if node.content is NULL:
            return ""
        return level.text_of(<const char*>node.content)
    joined = b""
    while node is not NULL:
        if node.content is not NULL:
            joined += <bytes>(<const char*>node.content)
        node = _text_node(node.next)
    return joined.decode("utf-8")


cdef str _attribute_value(tree.xmlAttr* attribute):
    cdef tree.xmlNode* node = attribute.children
    cdef bytes joined = b""
    if node is not NULL and node.next is NULL and node.type == tree.XML_TEXT_NODE:
        if node.content is NULL:
            return ""
        return PyUnicode_DecodeUTF8(
            <const char*>node.content, <Py_ssize_t>strlen(<const char*>node.content), NULL
        )
    while node is not NULL:
        if node.type != tree.XML_TEXT_NODE:
            raise _Unusual()
        if node.content is not NULL:
            joined += <bytes>(<const char*>node.content)
        node = node.next
    return joined.decode("utf-8")


cdef class Walker:
    """Walks subtrees of elements in ``namespace`` into tables, stopping at ``stops``."""

    cdef bytes namespace
    cdef _Level root
    cdef object fallback
    cdef unsigned long long stamp
    # A namespace node of this walk found to be ours: nodes naming it need no string
    # comparison. Only kept for one walk (the subtree, and so the node, stays while it runs).
    cdef tree.xmlNs* ours

    def __init__(self, str namespace not None, stops, fallback) -> None:
        self.namespace = namespace.encode("utf-8")
        self.root = _root(stops)
        self.fallback = fallback
        self.stamp = 0

    def walk(self, _Element element not None):
        if element._c_node is NULL:
            raise ValueError("element has no node")
        self.ours = NULL
        try:
            return self._table(element._c_node, self.root)
        except _Unusual:
            return self.fallback(element)
        finally:
            self.ours = NULL

    cdef tuple _table(self, tree.xmlNode* element, _Level root):
        cdef dict first = {}
        cdef list tables = [None, None]  # more, subs: made when first needed
        self.stamp += 1
        self._walk(element, root, root, first, tables, self.stamp)
        return first, tables[0], tables[1]

    cdef int _walk(
        self,
        tree.xmlNode* parent,
        _Level level,
        _Level root,
        dict first,
        list tables,
        unsigned long long stamp,
    ) except -1:
        cdef tree.xmlNode* node = parent.children
        cdef tree.xmlAttr* attribute
        cdef const char* namespace = <const char*>self.namespace
        cdef _Level kid
        cdef dict more
        cdef dict subs
        cdef list found
        while node is not NULL:
            if node.type != tree.XML_ELEMENT_NODE or node.ns is NULL:
                node = node.next
                continue
            if node.ns is not self.ours:
                if node.ns.href is NULL or strcmp(<const char*>node.ns.href, namespace) != 0:
                    node = node.next
                    continue
                self.ours = node.ns
            kid = level.kid(<const char*>node.name, root)
            text = _text(kid, node)
            if kid.stamp != stamp:
                kid.stamp = stamp
                first[kid.path] = text
                attribute = node.properties
                while attribute is not NULL:
                    if attribute.ns is NULL:
                        first[kid.attribute_key(<const char*>attribute.name)] = (
                            _attribute_value(attribute)
                        )
                    attribute = attribute.next
            else:
                more = <dict>tables[0] if tables[0] is not None else None
                if more is None:
                    more = {}
                    tables[0] = more
                found = more.get(kid.path)
                if found is None:
                    more[kid.path] = [text]
                else:
                    found.append(text)
            if kid.sub is not None:
                subs = <dict>tables[1] if tables[1] is not None else None
                if subs is None:
                    subs = {}
                    tables[1] = subs
                found = subs.get(kid.path)
                if found is None:
                    found = []
                    subs[kid.path] = found
                found.append(self._table(node, kid.sub))
            elif node.children is not NULL:
                self._walk(node, kid, root, first, tables, stamp)
            node = node.next
        return 0
