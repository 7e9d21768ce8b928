"""What `tinycnn bench` measured (``BenchReport``: per layer, flash by owner, RAM, host
times), its JSON and the text the terminal shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tinycnn.codegen.host import HOST_CFLAGS


@dataclass
class Layer:
    call: int  # kernel call index in the generated model
    op_index: int
    opcode: str
    output: str  # the output tensor's name
    macs: int
    instructions: int  # DSP kernels
    portable_instructions: int  # plain C kernels
    cmsis_instructions: int | None = None
    cmsis_note: str = ""  # why there is no CMSIS-NN figure, or how its output differs

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.macs else None


@dataclass
class FlashSplit:
    runtime_code: int  # the tc_* kernels this model uses, code and their constants
    model_code: int  # the generated invoke function and parameter structs
    weights: int  # the model's constant arrays: weights, biases, multipliers, shifts
    other: int  # startup, UART and timer, libc and libgcc helpers

    @property
    def total(self) -> int:
        return self.runtime_code + self.model_code + self.weights + self.other


@dataclass
class BenchReport:
    model: str
    macs: int
    images: int
    instructions_per_tick: int
    layers: list[Layer]
    instructions: int  # sum over the layers, DSP kernels
    portable_instructions: int
    flash: FlashSplit  # DSP build, at the firmware's flags
    portable_flash: FlashSplit
    cflags: list[str]
    arena_bytes: int  # the plan the firmware uses (fused)
    lower_bound_bytes: int  # the most bytes alive at once, fused
    unfused_arena_bytes: int  # the plan without fusion
    unfused_lower_bound_bytes: int
    naive_bytes: int  # every activation tensor in its own buffer
    tflm_arena_bytes: int | None
    stack_bytes: int
    cmsis_nn: str | None  # the folder used, or None
    cmsis_note: str  # why CMSIS-NN is missing, when it is
    cmsis_instructions: int | None  # sum over the layers CMSIS-NN has a kernel for
    tinycnn_instructions_on_cmsis_layers: int | None
    host: dict[str, float] = field(default_factory=dict)  # microseconds per inference
    host_note: str = ""
    core: str = "QEMU's mps2-an386 (cortex-m4)"  # the emulated core the counts come from
    estimate_board: str = "nano33"  # a real board with that core, for the milliseconds estimate
    estimate_hz: int = 64_000_000

    @property
    def per_mac(self) -> float:
        return self.instructions / self.macs if self.macs else 0.0

    @property
    def portable_per_mac(self) -> float:
        return self.portable_instructions / self.macs if self.macs else 0.0

    def to_json(self) -> dict:
        data = asdict(self)
        data["per_mac"] = self.per_mac
        data["portable_per_mac"] = self.portable_per_mac
        data["flash"]["total"] = self.flash.total
        data["portable_flash"]["total"] = self.portable_flash.total
        for layer, row in zip(self.layers, data["layers"], strict=True):
            row["per_mac"] = layer.per_mac
        return data


def format_report(report: BenchReport) -> str:
    """The report as the terminal shows it: the layer table, then memory, then the host."""
    lines = [
        f"{report.model}: {report.macs:,} MACs; mean of {report.images} input(s) on "
        f"{report.core} under -icount shift=0",
        f"Counts are instructions executed, not cycles (resolution {report.instructions_per_tick}).",
        "",
        *_layer_lines(report),
        "",
        *_memory_lines(report),
        f"{report.estimate_board} at {report.estimate_hz // 1_000_000} MHz, estimate (one "
        f"instruction per cycle, a lower bound): "
        f"{report.instructions / report.estimate_hz * 1000:.1f} ms per inference",
        *_host_lines(report),
    ]
    return "\n".join(lines)


def _layer_lines(report: BenchReport) -> list[str]:
    op = max([18, *(len(layer.opcode) for layer in report.layers)])  # UNIDIRECTIONAL_SEQUENCE_LSTM
    lines = [
        f"{'call':>4}  {'op':<{op}} {'MACs':>10} {'DSP':>11} {'/MAC':>6} {'portable':>11} "
        f"{'CMSIS-NN':>11} {'vs CMSIS':>8}"
    ]
    notes = []
    for layer in report.layers:
        per_mac = f"{layer.per_mac:.2f}" if layer.per_mac else "-"
        cmsis = f"{layer.cmsis_instructions:,}" if layer.cmsis_instructions is not None else "-"
        ratio = (
            f"{layer.instructions / layer.cmsis_instructions:.2f}x"
            if layer.cmsis_instructions
            else ""
        )
        if layer.cmsis_note:
            notes.append(f"call {layer.call} ({layer.opcode}): {layer.cmsis_note}")
        lines.append(
            f"{layer.call:>4}  {layer.opcode:<{op}} {layer.macs:>10,} {layer.instructions:>11,} "
            f"{per_mac:>6} {layer.portable_instructions:>11,} {cmsis:>11} {ratio:>8}"
        )
    lines.append(
        f"{'':>4}  {'total':<{op}} {report.macs:>10,} {report.instructions:>11,} "
        f"{report.per_mac:>6.2f} {report.portable_instructions:>11,}"
    )
    if report.cmsis_instructions:
        compared = sum(1 for layer in report.layers if layer.cmsis_instructions is not None)
        lines.append(
            f"On the {compared} layers CMSIS-NN has kernels for: tinycnn "
            f"{report.tinycnn_instructions_on_cmsis_layers:,}, CMSIS-NN {report.cmsis_instructions:,} "
            f"({report.tinycnn_instructions_on_cmsis_layers / report.cmsis_instructions:.2f}x)."
        )
    if report.cmsis_note:
        lines.append(report.cmsis_note)
    return lines + [f"  {note}" for note in notes if note != "no CMSIS-NN kernel"]


def _memory_lines(report: BenchReport) -> list[str]:
    flash = report.flash
    tflm = (
        f"; TFLM's arena {report.tflm_arena_bytes:,} B, "
        f"{report.arena_bytes / report.tflm_arena_bytes:.2f}x of it"
        if report.tflm_arena_bytes
        else ""
    )
    return [
        f"Flash ({next(f for f in report.cflags if f.startswith('-O'))}, DSP build): "
        f"runtime code {flash.runtime_code:,} B, "
        f"model code {flash.model_code:,} B, weights {flash.weights:,} B, other {flash.other:,} B "
        f"= {flash.total:,} B (portable build: runtime code {report.portable_flash.runtime_code:,} B)",
        f"RAM: planned arena {report.arena_bytes:,} B with fusion (its lower bound "
        f"{report.lower_bound_bytes:,} B{tflm}); without fusion {report.unfused_arena_bytes:,} B "
        f"(lower bound {report.unfused_lower_bound_bytes:,} B); every tensor apart "
        f"{report.naive_bytes:,} B; stack high-water {report.stack_bytes:,} B",
    ]


def _host_lines(report: BenchReport) -> list[str]:
    lines = []
    if report.host:
        c = report.host.get("c")
        names = {
            "tflm": "TFLM interpreter",
            "litert_ref": "LiteRT reference kernels",
            "litert": "LiteRT default kernels",
        }
        others = ", ".join(
            f"{names[key]} {value:,.0f} us ({value / c:.2f}x the C's time)"
            for key, value in report.host.items()
            if key != "c"
        )
        lines.append(
            f"Host, this machine (median per inference, interleaved rounds): generated C "
            f"({' '.join(HOST_CFLAGS[:2])}) {c:,.0f} us; {others}"
        )
    if report.host_note:
        lines.append(f"  {report.host_note}")
    return lines
