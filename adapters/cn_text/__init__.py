"""The ``cn_text`` adapter: Chinese rural cooperative banks' text batch files.

批量代发 (disbursement) and 批量代扣 (collection) instruction files, their 回盘 result files
and 对账单 statements, delimited or fixed-width, in GB18030 or another encoding, each bank's
variant described by a layout TOML in ``config/banks/layouts/``.
"""

from adapters.cn_text.adapter import CnTextAdapter
from adapters.cn_text.layout import Layout, LayoutError, layout_from_mapping, load_layout

__all__ = ["CnTextAdapter", "Layout", "LayoutError", "layout_from_mapping", "load_layout"]
