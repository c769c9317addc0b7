"""camsweep benchmarks: speed, connect floor, nmap peer, scale.  ``python -m bench --help``.

Every figure printed comes with the exact command that reproduces it, and all
of them are written to ``bench/results/latest.json`` (``--json``).

- speed: ``camsweep scan`` (the real CLI, in its own process) over every
  address of a lab fleet in loopback mode, with and without the lab's ONVIF
  credential; wall time, addresses/s, the scanner process's peak RSS, and
  identification accuracy against the fleet's truth.
- floor: a bare uvloop TCP connect sweep of the same addresses and ports with
  the same concurrency (the most this machine can do); camsweep as a multiple.
- peer: ``nmap -sT -sV`` (connect scan only, loopback only) on a fixed sample
  of the fleet's devices, and camsweep on the same sample: time ratio and
  devices identified correctly by each.
- scale: memory and time of a sweep as the target grows (/20 then /16, few
  live hosts, targets streamed); inventory ingest through the batching writer
  on SQLite and PostgreSQL, then exports (JSON, CSV, XLSX).

The lab runs in its own process (``LabProcess``) so the scanner does not share
its GIL.  Only loopback addresses of the bench block (127.160-169.x.x) are used.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from defusedxml import ElementTree  # noqa: E402

from scanner.probes.tcp import CAMERA_PORTS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latest.json"
LAB_USER, LAB_PASSWORD = "admin", "Lab-Pass-2024"  # the lab's documented ONVIF account
PG_ADMIN_URL = os.environ.get("CAMSWEEP_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECTIONS = ("speed", "floor", "peer", "scale")
NMAP_TIMEOUT_S = 240.0  # nmap on the sample; a slower run is reported as such, not waited for
SCAN_TIMEOUT_S = 240.0  # one camsweep scan process
CONNECT_TIMEOUT_S = 1.5  # the floor sweep's connect timeout (camsweep's default)

#: nmap -sV product/extrainfo strings -> manufacturer (nmap-service-probes 7.93 wording).
#: A product matching none of these patterns names no manufacturer.
NMAP_MAKERS: tuple[tuple[str, str], ...] = (
    (r"hikvision", "Hikvision"),
    (r"dahua", "Dahua"),
    (r"\baxis\b", "Axis"),
    (r"hanwha|samsung techwin|wisenet", "Hanwha Vision"),
    (r"\bbosch\b", "Bosch"),
    (r"avigilon", "Avigilon"),
    (r"vivotek", "Vivotek"),
    (r"uniview|\bunv\b", "Uniview"),
    (r"huawei", "Huawei"),
    (r"xiongmai|\bxm\b|netsurveillance|h264dvr|uc-httpd", "Xiongmai"),
    (r"genetec", "Genetec"),
    (r"\baxon\b", "Axon"),
    (r"amcrest", "Dahua"),
    (r"lorex", "Dahua"),
    (r"annke|\blts\b|ezviz|interlogix", "Hikvision"),
)


# -- small helpers -------------------------------------------------------------------


def cmdline(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def this_command(section: str, args: argparse.Namespace) -> str:
    """The harness command that reproduces one section's figures with these options."""
    argv = ["python", "-m", "bench", "--only", section]
    if args.quick:
        argv.append("--quick")
    if args.fleet != DEFAULT_FLEET:
        argv += ["--fleet", args.fleet]
    if args.network != DEFAULT_NETWORK:
        argv += ["--network", args.network]
    return cmdline(argv)


@dataclass
class Child:
    seconds: float
    maxrss_mib: float
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float = float("nan")  # user + system CPU of the child (and its children)


#: Run argv[2:] as a child of a small process and write the child's own rusage peak RSS (KiB) to
#: argv[1].  Linux carries a process's peak RSS across exec, so a command started straight from
#: this harness (vfork + exec) would report at least the harness's own size.
_RUSAGE_WRAPPER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "kids = __import__('resource').getrusage(__import__('resource').RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {kids.ru_utime + kids.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)\n"
)


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout_s: float = SCAN_TIMEOUT_S
) -> Child:
    """Run a process to completion; wall time and *its own* peak RSS."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        rss_file = Path(tmp) / "maxrss"
        wrapped = [sys.executable, "-I", "-S", "-c", _RUSAGE_WRAPPER, str(rss_file), *argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, cwd=ROOT, start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        elapsed = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        maxrss_kib, cpu_s = (
            map(float, rss_file.read_text().split()) if rss_file.exists() else (float("nan"), float("nan"))
        )
        return Child(
            elapsed,
            maxrss_kib / 1024,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            cpu_s,
        )


# -- accuracy -------------------------------------------------------------------------


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip().lower()


def firmware_matches(found: Any, truth: Any) -> bool:
    """Equal, or the same version token (``V5.7.3`` of ``V5.7.3 build 220112``; a leading v ignored)."""
    f, t = _norm(found), _norm(truth)
    if not f or not t:
        return False
    if f == t:
        return True

    def token(v: str) -> str:
        return re.split(r"[\s,]+", v)[0].lstrip("v")

    return token(f) == token(t)


@dataclass
class Accuracy:
    """Per-field and whole-device correctness over the fleet's cameras."""

    cameras: int = 0
    manufacturer: int = 0
    model: int = 0
    firmware: int = 0
    all_three: int = 0
    wrong: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cameras": self.cameras,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "firmware": self.firmware,
            "all_three": self.all_three,
            "wrong_examples": self.wrong[:5],
        }


def score(truth: Iterable[dict[str, Any]], found: dict[str, dict[str, Any]]) -> Accuracy:
    """Compare ``found[ip]`` (manufacturer/model/firmware) with each camera of ``truth``.

    Manufacturer and model compare case-insensitively; firmware by
    :func:`firmware_matches`.  A camera the tool did not report scores nothing.
    Decoys (``is_camera`` false) are not scored.
    """
    acc = Accuracy()
    for dev in truth:
        if not dev.get("is_camera"):
            continue
        acc.cameras += 1
        got = found.get(dev["ip"], {})
        ok_m = bool(got.get("manufacturer")) and _norm(got.get("manufacturer")) == _norm(dev["manufacturer"])
        ok_model = bool(got.get("model")) and _norm(got.get("model")) == _norm(dev["model"])
        ok_fw = firmware_matches(got.get("firmware"), dev["firmware"])
        acc.manufacturer += ok_m
        acc.model += ok_model
        acc.firmware += ok_fw
        if ok_m and ok_model and ok_fw:
            acc.all_three += 1
        elif len(acc.wrong) < 20:
            acc.wrong.append(
                {
                    "ip": dev["ip"],
                    "truth": [dev["manufacturer"], dev["model"], dev["firmware"]],
                    "found": [got.get("manufacturer"), got.get("model"), got.get("firmware")],
                }
            )
    return acc


def nmap_maker(text: str) -> str | None:
    low = text.lower()
    for pattern, maker in NMAP_MAKERS:
        if re.search(pattern, low):
            return maker
    return None


def parse_nmap_xml(xml: bytes, truth_models: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What nmap -sV said of each host: a manufacturer from :data:`NMAP_MAKERS`, and the
    truth's model/firmware only where nmap's own strings contain them (generous to nmap)."""
    found: dict[str, dict[str, Any]] = {}
    root = ElementTree.fromstring(xml)
    for host in root.iter("host"):
        addr = host.find("address")
        if addr is None:
            continue
        ip = addr.get("addr", "")
        texts = []
        for svc in host.iter("service"):
            texts.append(
                " ".join(svc.get(k, "") for k in ("product", "version", "extrainfo", "devicetype", "ostype"))
            )
        blob = " | ".join(t for t in texts if t.strip())
        maker = None
        for t in texts:
            maker = maker or nmap_maker(t)
        model = truth_models.get(ip, "")
        version_tokens = re.findall(r"v?\d+(?:\.\d+)+", blob, flags=re.I)
        found[ip] = {
            "manufacturer": maker,
            "model": model if model and _norm(model) in _norm(blob) else None,
            "firmware": version_tokens[0] if version_tokens else None,
            "services": blob,
        }
    return found


# -- the lab --------------------------------------------------------------------------

DEFAULT_FLEET, DEFAULT_NETWORK = "bench-1000", "127.160.0.0/20"
QUICK_FLEET, QUICK_NETWORK = "demo", "127.162.0.0/24"


def network_addresses(network: str) -> list[str]:
    return [str(a) for a in ipaddress.ip_network(network)]


def scan_argv(targets: Sequence[str], db_url: str, concurrency: int, per_host: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "camsweep",
        "scan",
        *targets,
        "--rate",
        "0",
        "--concurrency",
        str(concurrency),
        "--per-host",
        str(per_host),
        "--no-arp",
        "--no-wsd",
        "--no-mdns",
        "--progress",
        "none",
        "--db",
        db_url,
    ]


def camsweep_found(db_url: str) -> dict[str, dict[str, Any]]:
    from camsweep.api import list_devices

    return {
        d.ip: {"manufacturer": d.manufacturer, "model": d.model, "firmware": d.firmware}
        for d in list_devices(db_url)
        if d.ip
    }


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a running process so far (``/proc``), NaN if unknown."""
    if not pid:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lab_pid(lab: Any) -> int | None:
    return int(lab.state["pid"]) if lab is not None and lab.state.get("pid") else None


def camsweep_run(
    label: str,
    targets: Sequence[str],
    truth: list[dict[str, Any]],
    workdir: Path,
    args: argparse.Namespace,
    credentials: bool,
    lab: Any = None,
) -> dict[str, Any]:
    db_url = f"sqlite:///{workdir / (label + '.db')}"
    argv = scan_argv(targets, db_url, args.concurrency, args.per_host)
    env = dict(os.environ)
    env.pop("CAMSWEEP_ONVIF_USER", None)
    env.pop("CAMSWEEP_ONVIF_PASSWORD", None)
    if credentials:
        env.update(CAMSWEEP_ONVIF_USER=LAB_USER, CAMSWEEP_ONVIF_PASSWORD=LAB_PASSWORD)
    lab_cpu0 = process_cpu_s(lab_pid(lab))
    child = run_child(argv, env)
    lab_cpu = process_cpu_s(lab_pid(lab)) - lab_cpu0
    if child.returncode != 0:
        raise RuntimeError(f"camsweep scan failed ({child.returncode}): {child.stderr[-2000:]}")
    n = (
        len(targets)
        if not any("/" in t for t in targets)
        else sum(len(network_addresses(t)) for t in targets)
    )
    acc = score(truth, camsweep_found(db_url))
    shown = ["camsweep", *argv[3:]]
    shown[shown.index("--db") + 1] = "sqlite:///bench.db"
    prefix = f"CAMSWEEP_ONVIF_USER={LAB_USER} CAMSWEEP_ONVIF_PASSWORD={LAB_PASSWORD} " if credentials else ""
    if len(targets) > 4:
        shown = [*shown[:2], "@targets.txt", *shown[2 + len(targets) :]]
    return {
        "addresses": n,
        "seconds": round(child.seconds, 2),
        "addresses_per_s": round(n / child.seconds, 1),
        "peak_rss_mib": round(child.maxrss_mib, 1),
        "scanner_cpu_s": round(child.cpu_s, 1),
        "lab_cpu_s": round(lab_cpu, 1),
        "accuracy": acc.as_dict(),
        "scan_command": prefix + cmdline(shown),
    }


# -- floor: a bare connect sweep ------------------------------------------------------


async def connect_sweep(
    addresses: Sequence[str], ports: Sequence[int], concurrency: int, per_host: int
) -> int:
    """Connect to every address x port, ``concurrency`` addresses in flight, ``per_host``
    connects per address at once: the engine's TCP phase with nothing else.  Open ports back."""
    open_count = 0
    sem = asyncio.Semaphore(concurrency)

    async def port(ip: str, p: int, host_sem: asyncio.Semaphore) -> None:
        nonlocal open_count
        async with host_sem:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    _, writer = await asyncio.open_connection(ip, p)
            except (OSError, TimeoutError):
                return
            open_count += 1
            writer.close()

    async def host(ip: str) -> None:
        try:
            host_sem = asyncio.Semaphore(per_host)
            async with asyncio.TaskGroup() as tg:
                for p in ports:
                    tg.create_task(port(ip, p, host_sem))
        finally:
            sem.release()

    async with asyncio.TaskGroup() as tg:
        for ip in addresses:
            await sem.acquire()
            tg.create_task(host(ip))
    return open_count


def floor_child(args: argparse.Namespace) -> None:
    """``--floor-child``: the connect sweep in its own process (measured like camsweep's)."""
    from scanner.engine import run

    t0 = time.perf_counter()
    n_open = run(
        connect_sweep(network_addresses(args.network), CAMERA_PORTS, args.concurrency, args.per_host)
    )
    print(json.dumps({"open": n_open, "seconds": time.perf_counter() - t0}))


# -- sections -------------------------------------------------------------------------


def section_speed(lab: Any, args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> None:
    truth = lab.devices
    targets = [args.network]
    res: dict[str, Any] = {"fleet": args.fleet, "devices": len(truth), "ports": list(CAMERA_PORTS)}
    res["with_credentials"] = camsweep_run("speed-cred", targets, truth, workdir, args, True, lab)
    if args.anonymous_speed:
        res["without_credentials"] = camsweep_run("speed-anon", targets, truth, workdir, args, False, lab)
    res["command"] = this_command("speed", args)
    out["speed"] = res


def section_floor(lab: Any, args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> None:
    argv = [sys.executable, "-m", "bench", "--floor-child", "--network", args.network]
    argv += ["--concurrency", str(args.concurrency), "--per-host", str(args.per_host)]
    lab_cpu0 = process_cpu_s(lab_pid(lab))
    child = run_child(argv)
    lab_cpu = process_cpu_s(lab_pid(lab)) - lab_cpu0
    if child.returncode != 0:
        raise RuntimeError(f"floor sweep failed: {child.stderr[-2000:]}")
    inner = json.loads(child.stdout.strip().splitlines()[-1])
    n = len(network_addresses(args.network))
    res = {
        "addresses": n,
        "ports": len(CAMERA_PORTS),
        "connects": n * len(CAMERA_PORTS),
        "open_ports": inner["open"],
        "seconds": round(inner["seconds"], 2),
        "addresses_per_s": round(n / inner["seconds"], 1),
        "peak_rss_mib": round(child.maxrss_mib, 1),
        "scanner_cpu_s": round(child.cpu_s, 1),
        "lab_cpu_s": round(lab_cpu, 1),
        "command": this_command("floor", args),
        "sweep_command": cmdline(["python", "-m", "bench", *argv[3:]]),
    }
    speed = out.get("speed", {}).get("with_credentials")
    if speed:
        res["camsweep_multiple"] = round(speed["seconds"] / res["seconds"], 1)
    out["floor"] = res


def sample_of(devices: list[dict[str, Any]], every: int) -> list[dict[str, Any]]:
    """Every ``every``-th device of the fleet (the fleet lists personalities in blocks, so this
    takes each personality in proportion)."""
    return devices[::every]


def section_peer(lab: Any, args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> None:
    sample = sample_of(lab.devices, args.nmap_every)
    ips = [d["ip"] for d in sample]
    (workdir / "sample.txt").write_text("\n".join(ips) + "\n", encoding="utf-8")
    xml_path = workdir / "nmap.xml"
    ports = ",".join(str(p) for p in CAMERA_PORTS)
    # Connect scan only (-sT, --unprivileged: no raw packets), no ping (-Pn), no DNS (-n),
    # version detection at nmap's default intensity, the usual -T4.
    nmap_argv = ["nmap", "--unprivileged", "-sT", "-Pn", "-n", "-sV", "-T4", "-p", ports]
    child = run_child(
        [*nmap_argv, "-oX", str(xml_path), "-iL", str(workdir / "sample.txt")], timeout_s=NMAP_TIMEOUT_S
    )
    completed = child.returncode == 0 and xml_path.exists()
    truth_models = {d["ip"]: d["model"] for d in sample}
    nmap_found = parse_nmap_xml(xml_path.read_bytes(), truth_models) if completed else {}
    nmap_acc = score(sample, nmap_found)
    cs = camsweep_run("peer-cred", ips, sample, workdir, args, credentials=True)
    cs_anon = (
        camsweep_run("peer-anon", ips, sample, workdir, args, credentials=False)
        if not args.no_anonymous
        else None
    )
    res: dict[str, Any] = {
        "sample": f"every {args.nmap_every}th device of the fleet: {len(ips)} devices, all {len(CAMERA_PORTS)} ports",
        "devices": len(ips),
        "nmap": {
            "completed": completed,
            "seconds": round(child.seconds, 2),
            "cpu_s": round(child.cpu_s, 1),
            "peak_rss_mib": round(child.maxrss_mib, 1),
            "accuracy": nmap_acc.as_dict(),
            "command": cmdline([*nmap_argv, "-oX", "nmap.xml", "-iL", "sample.txt"]),
        },
        "camsweep": cs,
        "camsweep_without_credentials": cs_anon,
        "speedup": round(child.seconds / cs["seconds"], 1),
        "command": this_command("peer", args),
    }
    out["peer"] = res


def section_scale(lab: Any, args: argparse.Namespace, workdir: Path, out: dict[str, Any]) -> None:
    res: dict[str, Any] = {"sweeps": [], "inventory": []}
    cidrs = ["127.163.0.0/22", "127.163.0.0/18"] if args.quick else ["127.163.0.0/20", "127.163.0.0/16"]
    for cidr in cidrs:
        argv = [sys.executable, "bench/scan_memory.py", "--cidr", cidr]
        child = run_child(argv, timeout_s=180)
        if child.returncode != 0:
            raise RuntimeError(f"{cmdline(argv)} failed: {child.stderr[-2000:]}")
        vals = {}
        for line in child.stdout.splitlines():
            m = re.match(r"\s*(\w+): ([\d,.]+|nan)$", line)
            if m:
                vals[m.group(1)] = float(m.group(2).replace(",", ""))
        res["sweeps"].append(
            {
                "cidr": cidr,
                "addresses": int(vals["addresses"]),
                "found": int(vals["found"]),
                "seconds": round(vals["seconds"], 2),
                "addresses_per_s": round(vals["rate"], 0),
                "rss_before_mib": vals["rss_before_mib"],
                "peak_rss_mib": round(child.maxrss_mib, 1),
                "command": cmdline(["python", *argv[1:]]),
            }
        )
    n = args.devices
    backends: list[tuple[str, str | None]] = [("sqlite", f"sqlite:///{workdir / 'ingest.db'}")]
    if not args.no_postgres:
        backends.append(("postgresql", None))
    for name, url in backends:
        argv = [sys.executable, "-m", "bench", "--ingest-child", "--devices", str(n), "--backend", name]
        if url:
            argv += ["--db", url]
        child = run_child(argv, timeout_s=600)
        if child.returncode != 0:
            raise RuntimeError(f"ingest on {name} failed: {child.stderr[-2000:]}")
        inner = json.loads(child.stdout.strip().splitlines()[-1])
        inner.update(
            backend=name,
            peak_rss_mib=round(child.maxrss_mib, 1),
            command=cmdline(
                ["python", "-m", "bench", "--ingest-child", "--devices", str(n), "--backend", name]
            ),
        )
        res["inventory"].append(inner)
    res["command"] = this_command("scale", args)
    out["scale"] = res


# -- inventory ingest and export (child process) -------------------------------------

MAKERS = (
    ("HIKVISION", "Hikvision", "DS-2CD2143G2-I", "V5.7.3 build 220112", "App-webs/"),
    ("Dahua", "Dahua", "IPC-HDW2431T-AS-S2", "V2.800.0000000.16.R", "Webs"),
    ("AXIS", "Axis", "P3245-LVE", "10.12.206", "lighttpd"),
    ("Hanwha Vision", "Hanwha Vision", "XNV-8080R", "2.21.02_20230816", "nginx"),
)


def synthetic_host(i: int) -> tuple[Any, Any]:
    """One real-looking host: HTTP server banner, RTSP, and ONVIF device information."""
    from fingerprints.evidence import Evidence, HostReport, Identification, Observation, Status

    ip = f"10.{i >> 16 & 0xFF}.{i >> 8 & 0xFF}.{i & 0xFF}"
    raw_maker, maker, model, firmware, server = MAKERS[i % len(MAKERS)]
    serial = f"{model}-{i:08d}"
    mac = f"02:42:{i >> 24 & 0xFF:02x}:{i >> 16 & 0xFF:02x}:{i >> 8 & 0xFF:02x}:{i & 0xFF:02x}"
    http = Observation(
        "http", ip, 80, Status.SUCCESS, [Evidence("http.server", server, "http:80")], b"HTTP/1.1 200"
    )
    rtsp = Observation(
        "rtsp", ip, 554, Status.AUTH_REQUIRED, [Evidence("rtsp.realm", "IP Camera", "rtsp:554")]
    )
    onvif = Observation("onvif", ip, 80, Status.SUCCESS)
    onvif.add("onvif.manufacturer", raw_maker)
    onvif.add("onvif.model", model)
    onvif.add("onvif.firmware", firmware)
    onvif.add("onvif.serial", serial)
    report = HostReport(ip, [http, rtsp, onvif], mac=mac)
    ident = Identification(
        is_camera=True,
        brand=maker,
        manufacturer=maker,
        model=model,
        firmware=firmware,
        serial=serial,
        category="fixed camera",
        confidence=0.95,
    )
    return report, ident


def ingest_child(args: argparse.Namespace) -> None:
    """``--ingest-child``: write ``--devices`` hosts through the real writer, then export them."""
    import sqlalchemy as sa

    from camsweep.api import export_devices
    from db.repository import Inventory
    from db.writer import ScanWriter

    admin = None
    name = ""
    if args.backend == "postgresql":
        name = f"camsweep_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = args.db or f"sqlite:///{tempfile.mkdtemp()}/ingest.db"
    try:
        inv = Inventory(url)
        scan = inv.begin_scan(["10.0.0.0/8"], site="bench", total=args.devices)
        writer = ScanWriter(inv, scan)
        t0 = time.perf_counter()
        for i in range(args.devices):
            writer.add(*synthetic_host(i))
        writer.close()
        inv.finish_scan(scan, "completed", done=args.devices)
        ingest_s = time.perf_counter() - t0
        inv.close()
        result: dict[str, Any] = {
            "devices": args.devices,
            "ingest_s": round(ingest_s, 2),
            "devices_per_s": round(args.devices / ingest_s, 0),
        }
        formats = ["json", "csv"] + ([] if args.no_xlsx else ["xlsx"])
        for fmt in formats:
            t0 = time.perf_counter()
            data, rows = export_devices(url, fmt)
            result[f"export_{fmt}_s"] = round(time.perf_counter() - t0, 2)
            result[f"export_{fmt}_mib"] = round(len(data) / 2**20, 1)
            if rows != args.devices:
                raise RuntimeError(f"export {fmt}: {rows} rows, expected {args.devices}")
        print(json.dumps(result))
    finally:
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


# -- table ----------------------------------------------------------------------------


def rows_of(out: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(figure, value, command) for the printed table."""
    sp = out.get("speed")
    if sp:
        for key, label in (
            ("with_credentials", "with ONVIF credential"),
            ("without_credentials", "anonymous"),
        ):
            r = sp.get(key)
            if not r:
                continue
            a = r["accuracy"]
            yield (
                f"speed: camsweep, {label}",
                f"{r['addresses']} addr, {sp['devices']} devices: {r['seconds']} s, {r['addresses_per_s']} addr/s, "
                f"CPU {r['scanner_cpu_s']} s (lab {r['lab_cpu_s']} s), "
                f"peak RSS {r['peak_rss_mib']} MiB; cameras right {a['all_three']}/{a['cameras']} "
                f"(maker {a['manufacturer']}, model {a['model']}, firmware {a['firmware']})",
                r["scan_command"],
            )
    fl = out.get("floor")
    if fl:
        mult = f"; camsweep = {fl['camsweep_multiple']}x floor" if "camsweep_multiple" in fl else ""
        yield (
            "floor: bare connect sweep",
            f"{fl['connects']} connects ({fl['open_ports']} open): {fl['seconds']} s, "
            f"{fl['addresses_per_s']} addr/s, CPU {fl['scanner_cpu_s']} s (lab {fl['lab_cpu_s']} s), "
            f"peak RSS {fl['peak_rss_mib']} MiB{mult}",
            fl["sweep_command"],
        )
    pe = out.get("peer")
    if pe:
        n, c = pe["nmap"], pe["camsweep"]
        na, ca = n["accuracy"], c["accuracy"]
        done = "" if n["completed"] else " (did not finish: killed)"
        yield (
            "peer: nmap -sV on sample",
            f"{pe['devices']} devices: {n['seconds']} s{done} (CPU {n.get('cpu_s')} s); cameras right {na['all_three']}/{na['cameras']} "
            f"(maker {na['manufacturer']}, model {na['model']}, firmware {na['firmware']})",
            n["command"],
        )
        yield (
            "peer: camsweep on sample",
            f"{c['seconds']} s ({pe['speedup']}x faster than nmap); cameras right {ca['all_three']}/{ca['cameras']} "
            f"(maker {ca['manufacturer']}, model {ca['model']}, firmware {ca['firmware']})",
            c["scan_command"].replace("@targets.txt", "@sample.txt"),
        )
        anon = pe.get("camsweep_without_credentials")
        if anon:
            aa = anon["accuracy"]
            yield (
                "peer: camsweep anonymous",
                f"{anon['seconds']} s; cameras right {aa['all_three']}/{aa['cameras']} "
                f"(maker {aa['manufacturer']}, model {aa['model']}, firmware {aa['firmware']})",
                anon["scan_command"].replace("@targets.txt", "@sample.txt"),
            )
    sc = out.get("scale")
    if sc:
        for s in sc["sweeps"]:
            yield (
                f"scale: sweep {s['cidr']}",
                f"{s['addresses']} addr ({s['found']} live): {s['seconds']} s, {s['addresses_per_s']:.0f} addr/s, "
                f"RSS {s['rss_before_mib']} -> peak {s['peak_rss_mib']} MiB",
                s["command"],
            )
        for inv in sc["inventory"]:
            exports = ", ".join(
                f"{k[7:-2]} {v} s" for k, v in inv.items() if k.startswith("export_") and k.endswith("_s")
            )
            yield (
                f"scale: inventory {inv['backend']}",
                f"{inv['devices']} devices ingested in {inv['ingest_s']} s ({inv['devices_per_s']:.0f}/s), "
                f"peak RSS {inv['peak_rss_mib']} MiB; export {exports}",
                inv["command"],
            )


def render_table(out: dict[str, Any]) -> str:
    lines = []
    for figure, value, command in rows_of(out):
        lines.append(f"{figure:<34} {value}")
        lines.append(f"{'':<34} $ {command}")
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only", default=",".join(SECTIONS), help="comma-separated sections: " + ",".join(SECTIONS)
    )
    ap.add_argument(
        "--quick", action="store_true", help="small run: the demo fleet on a /24, small scale figures"
    )
    ap.add_argument(
        "--fleet", default=None, help=f"lab fleet (default {DEFAULT_FLEET}; --quick: {QUICK_FLEET})"
    )
    ap.add_argument("--network", default=None, help=f"fleet network (default {DEFAULT_NETWORK})")
    ap.add_argument("--concurrency", type=int, default=256, help="addresses in flight (camsweep and floor)")
    ap.add_argument("--per-host", type=int, default=2, help="connections per address at once")
    ap.add_argument(
        "--nmap-every", type=int, default=None, help="nmap samples every Nth device (default 100)"
    )
    ap.add_argument(
        "--devices", type=int, default=None, help="inventory ingest size (default 10000; README: 100000)"
    )
    ap.add_argument("--no-postgres", action="store_true", help="inventory on SQLite only")
    ap.add_argument("--no-xlsx", action="store_true", help="skip the XLSX export")
    ap.add_argument("--no-anonymous", action="store_true", help="peer: camsweep with the credential only")
    ap.add_argument("--anonymous-speed", action="store_true", help="speed: also scan without the credential")
    ap.add_argument(
        "--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(ROOT)})"
    )
    ap.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ingest-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="sqlite", help=argparse.SUPPRESS)
    ap.add_argument("--db", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.fleet = args.fleet or (QUICK_FLEET if args.quick else DEFAULT_FLEET)
    args.network = args.network or (QUICK_NETWORK if args.quick else DEFAULT_NETWORK)
    args.nmap_every = args.nmap_every or (10 if args.quick else 100)
    args.devices = args.devices or (300 if args.quick else 10000)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.floor_child:
        floor_child(args)
        return {}
    if args.ingest_child:
        ingest_child(args)
        return {}
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )
    from camsweep.lab import LabProcess

    out: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "options": {k: v for k, v in vars(args).items() if k not in ("json", "floor_child", "ingest_child")},
    }
    out["options"]["json"] = str(args.json)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="camsweep-bench-") as tmp:
        workdir = Path(tmp)
        needs_lab = any(s in wanted for s in ("speed", "floor", "peer"))
        lab_cm = LabProcess(args.fleet, network=args.network) if needs_lab else None
        lab = lab_cm.start() if lab_cm else None
        try:
            for name, fn in (
                ("speed", section_speed),
                ("floor", section_floor),
                ("peer", section_peer),
                ("scale", section_scale),
            ):
                if name in wanted:
                    s0 = time.perf_counter()
                    fn(lab, args, workdir, out)
                    out[name]["section_s"] = round(time.perf_counter() - s0, 1)
                    print(f"[{name} done in {out[name]['section_s']} s]", file=sys.stderr, flush=True)
        finally:
            if lab_cm is not None:
                lab_cm.stop()
    out["total_s"] = round(time.perf_counter() - t0, 1)
    print(render_table(out))
    print(f"total {out['total_s']} s; results in {args.json}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
