"""The hub's event log as a timeline picture (PNG): the inter-PAN flag, the WAN, every command
by outcome and channel, and dropped frames per second, against the hub's own time, with the
lab's controls (wan down/up, radio loss, reset) and each power-up marked.

    python tools/timeline.py [LOG] [-o PNG] [--title TEXT]

LOG defaults to lab/hub.log and PNG to timeline.png beside it. The time axis is the hub's
clock (with --speed, hub time: an hour at --speed 60 is a minute of real time), boots placed
end to end. Made with matplotlib (pinned in requirements.txt), without a display.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import cli, hublog, labdir  # noqa: E402

INTERPAN_COLOURS = {"on": "#2e9d4f", "on_no_timeout": "#f0a202", "off": "#b8b8b8"}
WAN_COLOURS = {"present": "#2a6fdb", "lost": "#d1495b"}
OUTCOME_COLOURS = {
    "ok": "#2e9d4f",
    "duplicate": "#f0a202",
    "stale": "#8e5fc0",
    "forwarded": "#2a6fdb",
    "rejected": "#d1495b",
}
CHANNELS = ("wan", "interpan", "han")


def draw(h, out, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    minutes = h.end > 600
    scale = 60.0 if minutes else 1.0
    fig, axes = plt.subplots(
        4,
        1,
        sharex=True,
        figsize=(11, 7),
        gridspec_kw={"height_ratios": [1, 1, 1.6, 1.6]},
        constrained_layout=True,
    )
    ip, wan, cmd, drops = axes
    fig.suptitle(title, fontsize=12)

    def bands(ax, spans, colours, label):
        for x0, x1, value in spans:
            ax.broken_barh(
                [(x0 / scale, max(x1 - x0, 0.5) / scale)],
                (0, 1),
                facecolors=colours.get(value, "#444444"),
            )
        ax.set_yticks([])
        ax.set_title(label, loc="left", fontsize=9)
        ax.set_ylim(0, 1)
        ax.legend(
            handles=[Patch(color=c, label=k.replace("_", " ")) for k, c in colours.items()],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=8,
            frameon=False,
        )

    bands(ip, h.spans(h.interpan), INTERPAN_COLOURS, "inter-PAN flag (reason of each change)")
    for x, _, reason in h.interpan:
        ip.annotate(
            reason.replace("_", " "),
            (x / scale, 0.5),
            fontsize=7,
            rotation=90,
            ha="right",
            va="center",
        )
    bands(wan, h.spans(h.wan), WAN_COLOURS, "WAN (triangles: the link dropped / came back)")
    for x, state in h.links:
        wan.plot([x / scale], [0.5], marker="v" if state == "down" else "^", color="black")

    seen = set()
    for x, channel, outcome in h.commands:
        y = CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)
        colour = OUTCOME_COLOURS.get(outcome, "#444444")
        label = outcome if outcome not in seen else None
        seen.add(outcome)
        cmd.scatter([x / scale], [y], color=colour, s=22, label=label, zorder=3)
    cmd.set_yticks(range(len(CHANNELS)))
    cmd.set_yticklabels(["WAN", "inter-PAN", "HAN"])
    cmd.set_ylim(-0.6, len(CHANNELS) - 0.4)
    cmd.set_title("commands, by channel and outcome", loc="left", fontsize=9)
    if seen:
        cmd.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)

    gap = h.report_interval()
    xs = [x / scale for x, _, _ in h.drops]
    rates = [n / float(gap) for _, n, _ in h.drops]
    if xs:
        drops.bar(xs, rates, width=gap / scale, align="edge", color="#d1495b")
    drops.set_title("dropped frames per second", loc="left", fontsize=9)
    drops.set_ylim(bottom=0)
    drops.set_xlabel("hub time (%s)" % ("minutes" if minutes else "seconds"))
    drops.set_xlim(0, max(h.end, 1) / scale)

    for ax in axes:
        for x in h.boots[1:]:
            ax.axvline(x / scale, color="black", linewidth=1)
        for x, _ in h.controls:
            ax.axvline(x / scale, color="#555555", linewidth=0.8, linestyle="--")
    for x, text in h.controls:
        ip.annotate(
            "lab: " + text,
            (x / scale, 1.0),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=7,
            color="#333333",
        )
    for x in h.boots[1:]:
        ip.annotate(
            "power-up", (x / scale, 1.0), xytext=(2, 10), textcoords="offset points", fontsize=7
        )
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="timeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=cli.epilog(cli.USAGE),
    )
    ap.add_argument("log", nargs="?", help="the hub's event log (default lab/hub.log)")
    ap.add_argument("-o", "--output", help="the PNG to write (default timeline.png beside LOG)")
    ap.add_argument("--title", help="the picture's title")
    args = ap.parse_args(argv)
    log = args.log or os.path.join(labdir.DEFAULT, "hub.log")
    try:
        with open(log) as f:
            h = hublog.history(f)
    except FileNotFoundError:
        raise cli.Fail(cli.USAGE, "%s: no such file (start a lab: make run)" % log) from None
    except (OSError, UnicodeDecodeError) as e:
        raise cli.Fail(cli.USAGE, "%s: cannot read it (%s)" % (log, e)) from None
    if not h.boots:
        raise cli.Fail(cli.USAGE, "%s: no hub events in it (is it a hub's log?)" % log)
    out = args.output or os.path.join(os.path.dirname(log) or ".", "timeline.png")
    title = args.title or "hub %s: %d power-up(s), %d command(s), %.0f s of hub time" % (
        os.path.basename(os.path.dirname(os.path.abspath(log))),
        len(h.boots),
        len(h.commands),
        h.end,
    )
    try:
        draw(h, out, title)
    except OSError as e:
        raise cli.Fail(cli.USAGE, "%s: cannot write it (%s)" % (out, e)) from None
    print(out)
    return cli.OK


if __name__ == "__main__":
    sys.exit(cli.main("timeline", main))
