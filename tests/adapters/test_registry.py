"""Loading adapters through the huzhu.adapters entry points, including one a bank ships."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.base import Adapter
from adapters.cn_text import CnTextAdapter, LayoutError
from adapters.errors import AdapterLoadError, AdapterNotFoundError
from adapters.records import Batch, Direction, PaymentInstruction
from adapters.registry import adapter_class, installed_adapters, load_adapter

BANKS = Path(__file__).resolve().parents[2] / "config" / "banks"

BANK_PACKAGE = '''
from pathlib import Path

from adapters.cn_text import CnTextAdapter, load_layout

LAYOUT = Path(__file__).with_name("layout.toml")


class XianRcbAdapter(CnTextAdapter):
    """A bank's own package: the cn_text engine with the layout the bank ships."""

    name = "xian_rcb"

    @classmethod
    def from_options(cls, options, *, config_dir):
        return cls(load_layout(LAYOUT))
'''


def _install(root: Path, dist: str, entry_points: str, modules: dict[str, str]) -> None:
    """Lay out an installed distribution (dist-info with entry_points.txt) under ``root``."""
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for rel, text in modules.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    # Forget the bank packages imported from tmp_path, and nothing else.
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_builtin_adapters_are_installed() -> None:
    assert {"cn_text", "iso20022"} <= set(installed_adapters())
    assert adapter_class("cn_text") is CnTextAdapter


def test_load_builtin_cn_text_with_layout_path() -> None:
    adapter = load_adapter("cn_text", {"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)
    assert isinstance(adapter, CnTextAdapter)
    assert adapter.layout.name == "rcb_pipe"


def test_unknown_adapter_lists_what_is_installed() -> None:
    with pytest.raises(AdapterNotFoundError) as caught:
        load_adapter("no_such_bank", {}, config_dir=BANKS)
    assert "no_such_bank" in str(caught.value)
    assert "cn_text" in str(caught.value)
    assert "iso20022" in str(caught.value)


def test_bad_layout_stops_loading_with_the_key_named() -> None:
    with pytest.raises(LayoutError, match=r"layouts/missing\.toml: file not found"):
        load_adapter("cn_text", {"layout": "layouts/missing.toml"}, config_dir=BANKS)


def test_a_bank_ships_its_own_adapter(site: Path) -> None:
    layout = (BANKS / "layouts" / "rcb_pipe.toml").read_text(encoding="utf-8")
    _install(
        site,
        "xian_rcb_adapter",
        """
        [huzhu.adapters]
        xian_rcb = xian_rcb_adapter:XianRcbAdapter
        """,
        {
            "xian_rcb_adapter/__init__.py": BANK_PACKAGE,
            "xian_rcb_adapter/layout.toml": layout.replace('name = "rcb_pipe"', 'name = "xian"'),
        },
    )
    assert "xian_rcb" in installed_adapters()
    adapter = load_adapter("xian_rcb", {}, config_dir=site)
    assert type(adapter).__name__ == "XianRcbAdapter"
    assert isinstance(adapter, CnTextAdapter)
    tz = ZoneInfo("Asia/Shanghai")
    batch = Batch(
        message_id="XA1",
        direction=Direction.DISBURSEMENT,
        special_account="6230001",
        special_account_name="西安专户",
        created_at=datetime(2024, 5, 1, 9, 0, tzinfo=tz),
        requested_date=date(2024, 5, 2),
        instructions=(
            PaymentInstruction(
                "E1", 150_000, "6230001-01", "协会", "6217001", "王五", date(2024, 5, 2)
            ),
        ),
    )
    data = adapter.render_disbursement(batch)
    assert adapter.parse_instructions(data).instructions == batch.instructions


def test_entry_point_that_fails_to_import_is_named(site: Path) -> None:
    _install(
        site,
        "broken_bank",
        """
        [huzhu.adapters]
        broken = broken_bank_adapter:Adapter
        """,
        {"broken_bank_adapter/__init__.py": "import module_that_is_not_there\n"},
    )
    with pytest.raises(AdapterLoadError) as caught:
        load_adapter("broken", {}, config_dir=site)
    message = str(caught.value)
    assert "'broken'" in message
    assert "broken_bank_adapter:Adapter" in message
    assert "module_that_is_not_there" in message
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_entry_point_that_is_not_an_adapter_is_refused(site: Path) -> None:
    _install(
        site,
        "odd_bank",
        """
        [huzhu.adapters]
        odd = odd_bank_adapter:Helper
        """,
        {"odd_bank_adapter/__init__.py": "class Helper:\n    pass\n"},
    )
    with pytest.raises(AdapterLoadError, match=r"not a subclass of adapters\.base\.Adapter"):
        adapter_class("odd")


def test_incomplete_adapter_is_refused(site: Path) -> None:
    _install(
        site,
        "half_bank",
        """
        [huzhu.adapters]
        half = half_bank_adapter:Half
        """,
        {
            "half_bank_adapter/__init__.py": (
                "from adapters.base import Adapter\n\n\nclass Half(Adapter):\n    name = 'half'\n"
            )
        },
    )
    with pytest.raises(AdapterLoadError, match=r"does not implement: .*parse_result"):
        adapter_class("half")


def test_same_name_registered_twice_is_refused(site: Path) -> None:
    for dist, target in (("bank_a", "bank_a_mod:A"), ("bank_b", "bank_b_mod:B")):
        _install(site, dist, f"[huzhu.adapters]\ntwin = {target}\n", {})
    with pytest.raises(AdapterLoadError, match="registered twice"):
        load_adapter("twin", {}, config_dir=site)


def test_options_error_from_a_bank_adapter_is_wrapped(site: Path) -> None:
    _install(
        site,
        "picky_bank",
        "[huzhu.adapters]\npicky = picky_bank_adapter:Picky\n",
        {
            "picky_bank_adapter/__init__.py": (
                "from adapters.cn_text import CnTextAdapter\n\n\n"
                "class Picky(CnTextAdapter):\n"
                "    @classmethod\n"
                "    def from_options(cls, options, *, config_dir):\n"
                "        return cls(options['layout_object'])\n"
            )
        },
    )
    with pytest.raises(AdapterLoadError, match="refused its options: KeyError"):
        load_adapter("picky", {}, config_dir=site)


def test_adapter_base_is_abstract() -> None:
    assert issubclass(CnTextAdapter, Adapter)
    with pytest.raises(TypeError):
        Adapter()  # type: ignore[abstract]
