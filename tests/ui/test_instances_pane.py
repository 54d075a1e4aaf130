"""The instances pane drawn from fixed InstanceInfo rows and its selection keys; with one
instance at a time, the list stays hidden and the picker's ``a`` says why it does nothing.

No server is started here (a process-runtime engine whose binary does not exist).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import App, ComposeResult
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Label

from llamadash.core.context import build_engine
from llamadash.core.events import HostInfo, InstanceInfo, State
from llamadash.ui.app import build_app
from llamadash.ui.messages import PoolDescribed
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.widgets.instances import MIN_NAME_WIDTH, InstancesPane, name_width
from llamadash.ui.widgets.logs import LogPane
from tests.ui.helpers import screen_text, wait_until
from tests.ui.samples import NOW, GiB, MiB


def info(port: int, **changes: object) -> InstanceInfo:
    base = InstanceInfo(
        id="tiny",
        profile_name="Tiny random llama",
        state=State.READY,
        foreground=True,
        port=port,
        endpoint=f"http://127.0.0.1:{port}",
        runtime="process",
        ident="4242",
        pid=4242,
        uptime=30.0,
        since=NOW - 30,
        pinned=False,
        ttl=0.0,
        ttl_left=None,
        memory=512 * MiB,
        memory_measured=True,
        last_used=NOW,
        log_path="/tmp/tiny.log",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


ROWS = (
    info(8080),
    info(
        8100,
        id="gemma",
        profile_name="Gemma 3 270M",
        foreground=False,
        memory=2 * GiB,
        memory_measured=False,
        ttl=300.0,
    ),
    info(8101, id="qwen", profile_name="Qwen", foreground=False, state=State.FAILED, pinned=True),
)


class OnePane(App[None]):
    CSS_PATH = "../../llamadash/ui/app.tcss"

    def __init__(self) -> None:
        super().__init__()
        self.selected: list[int] = []

    def compose(self) -> ComposeResult:
        yield InstancesPane(id="instances", classes="pane")

    def on_instances_pane_selected(self, message: InstancesPane.Selected) -> None:
        self.selected.append(message.port)


async def test_rows_say_state_port_memory_speed_ttl_and_the_foreground() -> None:
    app = OnePane()
    async with app.run_test(size=(140, 30)) as pilot:
        pane = app.query_one(InstancesPane)
        pane.set_shown(True)
        pane.show(ROWS, budget=4 * GiB)
        pane.select(8080)
        pane.set_rate(8100, 41.25)
        pane.tick({8100: 75.0})
        await pilot.pause()
        tiny, gemma, qwen = pane.rows
        assert tiny.startswith("▸1 ● Tiny random llama") and tiny.rstrip().endswith("fg")
        assert "ready" in tiny and ":8080" in tiny and " 512 MiB" in tiny and "~" not in tiny
        # An estimate says so; its bar is half the budget (2 of 4 GiB, 8 cells).
        assert gemma.startswith(" 2 ● Gemma 3 270M") and "████░░░░ ~2.0 GiB" in gemma
        assert "41.2 t/s" in gemma and "ttl 1m" in gemma and not gemma.rstrip().endswith("fg")
        assert "failed" in qwen and "pinned" in qwen and "t/s" not in qwen
        assert str(pane.border_title) == "Instances · budget 4.0 GiB"
        # The last minute of a ttl counts in seconds.
        pane.tick({8100: 42.0})
        await pilot.pause()
        assert "ttl 42s" in pane.rows[1]


async def test_arrows_numbers_and_clicks_select_and_tell_the_app() -> None:
    app = OnePane()
    async with app.run_test(size=(140, 30)) as pilot:
        pane = app.query_one(InstancesPane)
        assert not pane.can_focus  # hidden: the screen's first focus must not land here
        pane.set_shown(True)
        pane.show(ROWS, budget=None)
        pane.select(8080)
        pane.focus()
        await pilot.press("down")
        await pilot.press("down", "down")  # stops at the last row
        await pilot.press("up")
        assert app.selected == [8100, 8101, 8101, 8100]
        assert pane.rows[1].startswith("▸2")
        assert pane.pick(3) and not pane.pick(4)
        await pilot.click(InstancesPane, offset=(5, 1))  # the first row, inside the border
        await pilot.pause()
        assert app.selected[-2:] == [8101, 8080]
        assert str(pane.border_title) == "Instances"  # no budget known: none said
        pane.set_shown(False)
        assert not pane.can_focus and not pane.display


async def test_with_hosts_a_host_column_and_an_unreachable_host_row() -> None:
    app = OnePane()
    hosts = (
        HostInfo("two", "unix:///x/two.sock", "127.0.0.1", True, None, NOW),
        HostInfo(
            "gpu3",
            "tcp://gpu3:2376",
            "gpu3",
            False,
            "Docker engine unreachable at tcp://gpu3:2376",
            NOW,
        ),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(InstancesPane)
        pane.set_shown(True)
        pane.show((info(8080), info(8090, id="far", profile_name="Far", host="two")), None, hosts)
        await pilot.pause()
        near, far, gone = pane.rows
        assert near.startswith(" 1 ● local    Tiny random llama") and near.rstrip().endswith("fg")
        assert far.startswith(" 2 ● two      Far") and ":8090" in far
        assert gone.startswith("   ✕ gpu3     unreachable: Docker engine unreachable at tcp://gpu3")
        assert all(len(row) <= pane.content_region.width for row in pane.rows)
        assert not pane.pick(3)  # an unreachable host is no instance to select
        pane.show((info(8080),), None)  # no [host] sections: no column
        await pilot.pause()
        assert pane.rows[0].startswith(" 1 ● Tiny random llama")


async def test_a_narrow_pane_shortens_the_names_first() -> None:
    app = OnePane()
    async with app.run_test(size=(80, 30)) as pilot:
        pane = app.query_one(InstancesPane)
        pane.set_shown(True)
        pane.show(ROWS, budget=8 * GiB)
        await pilot.pause()
        width = pane.content_region.width
        assert name_width(width) == MIN_NAME_WIDTH
        assert all(len(row) <= width for row in pane.rows), ([len(r) for r in pane.rows], width)
        assert pane.rows[0].rstrip().endswith("fg")  # the marks are kept whole
        assert "Tiny random…" in pane.rows[0]


CONF = """\
[llamadash]
runtime = process
llama_server = /nonexistent/llama-server
models_dir = {root}
state_dir = {root}/state
project_name = one
port = {port}

[tiny]
name = Tiny random llama
model = tiny.gguf
"""


async def test_a_in_the_picker_with_one_instance_at_a_time_says_so_and_starts_nothing(
    tmp_path: Path, free_port: int
) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(root=tmp_path, port=free_port))
    engine = build_engine(conf)  # max_instances = 1: nothing starts beside the foreground
    app = build_app(engine, collectors=None, api=None, refresh=0.2)
    notes: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            notes.append(message.notification.message)

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), 5, "the picker")
        await pilot.pause()
        help_line = str(app.screen.query_one("#picker-help", Label).render())
        assert "a: start alongside" not in help_line, help_line
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ModelPicker)  # still open: nothing was picked
        assert [note for note in notes if "max_instances = 1" in note], notes
        assert not [w for w in app.workers if w.group == "start"]
        # The instances list stays hidden and the number keys do nothing on the main screen.
        await pilot.press("escape")
        await pilot.press("2")
        assert not app.query_one(InstancesPane).display
        assert app.followed is engine.switcher


async def test_at_80x24_the_list_fits_between_the_panes_and_the_logs(
    tmp_path: Path, free_port: int
) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(root=tmp_path, port=free_port))
    app = build_app(build_engine(conf), collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.post_message(PoolDescribed(ROWS, 8 * GiB))  # three instances, two beside
        pane = app.query_one(InstancesPane)
        await wait_until(pilot, lambda: pane.display and pane.size.height > 0, 5, "the list")
        await pilot.pause()
        lines = screen_text(app).splitlines()
        # Nothing scrolled: the footer keeps the quit keys and no scrollbar takes columns.
        assert lines[-1].rstrip().endswith("q Quit Q Stop+Quit"), lines[-1]
        (tiny,) = [line for line in lines if " 1 ● " in line]
        assert tiny.rstrip().endswith("fg │"), tiny
        assert str(pane.border_subtitle) == "+1 more"  # the rows that do not fit are counted
        assert app.query_one(LogPane).outer_size.height >= 6  # its min-height, borders included
