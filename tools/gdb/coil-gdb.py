# tools/gdb/coil-gdb.py — coil's tasks in gdb: a live process or a core.
#
#   coil tasks              every live task of every loop: id, name,
#                           function, state, what kind of wait
#   coil bt <id|name>       the backtrace of a suspended task, unwound by
#                           gdb itself from the task's saved registers
#   coil task <id|name>     select that task: until `coil task none`, the
#                           loop's thread shows the task's stack, so that
#                           bt, frame N, up/down and info locals work on it
#
# How: coil exports two tables of words (coil__gdb_loops in
# src/loop/inbox.c, coil__gdb_tasks in src/task/task.c) that say where the
# live loops are and where each field of a task lies, so this script needs
# no debug info for coil and works on release builds.  A selected task is
# shown through a gdb frame unwinder: it claims the innermost frame of the
# loop's thread and says that its caller is the task's resume address with
# the registers the context switch saved (asm/<cpu>.S draws the frame), so
# the frames above it are real gdb frames, unwound with DWARF as usual.
# Nothing is written to the process: it works the same on a core file.
#
# Installed as share/gdb/auto-load/<libdir>/libcoil.so.<version>-gdb.py,
# which gdb loads with the shared library; with the static library, load
# it with `source <prefix>/share/coil/coil-gdb.py` (docs/debugging.md).

import gdb
import gdb.unwinder

STATE = {0: "pending", 1: "running", 2: "done", 3: "cancelled"}
CORO_SUSPENDED = 3

# The saved frame of a suspended context, from asm/<cpu>.S: where each
# callee-saved register lies above the saved sp, the register that holds
# the resume address, and how far above the saved sp the resumed sp is.
FRAMES = {
    "x86_64": {
        "regs": {"r15": 8, "r14": 16, "r13": 24, "r12": 32, "rbx": 40,
                 "rbp": 48},
        "pc": 56, "sp": 64, "pc_reg": "rip", "sp_reg": "rsp",
    },
    "aarch64": {
        "regs": dict([("x%d" % (19 + i), 8 * i) for i in range(10)] +
                     [("x29", 80), ("x30", 88)]),
        "pc": 88, "sp": 176, "pc_reg": "pc", "sp_reg": "sp",
    },
    # ra at 0 (also the resume address), s0 (fp) at 8, s1..s11 from 16;
    # the frame is 208 bytes.
    "riscv64": {
        "regs": dict([("fp", 8), ("ra", 0)] +
                     [("s%d" % (1 + i), 16 + 8 * i) for i in range(11)]),
        "pc": 0, "sp": 208, "pc_reg": "pc", "sp_reg": "sp",
    },
    # A 528-byte frame made by stdu (its back chain at 0): LR at 16 (the
    # resume address), the TOC (r2) at 24, r14..r31 from 32.
    "ppc64le": {
        "regs": dict([("r2", 24), ("lr", 16)] +
                     [("r%d" % (14 + i), 32 + 8 * i) for i in range(18)]),
        "pc": 16, "sp": 528, "pc_reg": "pc", "sp_reg": "r1",
    },
}
# The same over the fcontext backend (COIL_CTX_BACKEND=fcontext; the
# library then exports coil__gdb_fcontext): the frame Boost.Context 1.74's
# jump_fcontext leaves, as Debian's libboost_context disassembles.  No
# riscv64 row: Boost 1.74 has no riscv64 switch.
FCONTEXT_FRAMES = {
    # MXCSR and x87 control word at 0, then r12..r15, rbx, rbp.
    "x86_64": {
        "regs": {"r12": 8, "r13": 16, "r14": 24, "r15": 32, "rbx": 40,
                 "rbp": 48},
        "pc": 56, "sp": 64, "pc_reg": "rip", "sp_reg": "rsp",
    },
    # d8..d15 at 0, x19..x28 from 64, x29 and x30 at 144, the resume
    # address at 160; 176 bytes.
    "aarch64": {
        "regs": dict([("x%d" % (19 + i), 64 + 8 * i) for i in range(10)] +
                     [("x29", 144), ("x30", 152)]),
        "pc": 160, "sp": 176, "pc_reg": "pc", "sp_reg": "sp",
    },
    # r14..r31 from 8, CR at 160, LR at 168, the resume address at 176;
    # 184 bytes (no TOC: the caller reloads its own).
    "ppc64le": {
        "regs": dict([("lr", 168)] +
                     [("r%d" % (14 + i), 8 + 8 * i) for i in range(18)]),
        "pc": 176, "sp": 184, "pc_reg": "pc", "sp_reg": "r1",
    },
    # r6..r14 from 24 (stmg), f8..f15 from 96, FPC at 160, the resume
    # address at 168; 176 bytes.  gdb's pc on s390x is a pseudo register
    # made from the PSW's address half, pswa: both are given.
    "s390x": {
        "regs": dict([("pswa", 168)] +
                     [("r%d" % (6 + i), 24 + 8 * i) for i in range(9)]),
        "pc": 168, "sp": 176, "pc_reg": "pc", "sp_reg": "r15",
    },
}
# An expression for a thread's pointer (its TLS lies near it); s390x
# keeps it in two 32-bit access registers.
THREAD_POINTER = {"x86_64": "$fs_base", "aarch64": "$tpidr",
                  "riscv64": "$tp", "ppc64le": "$r13",
                  "s390x": "(((unsigned long)$acr0 << 32) | "
                           "(unsigned int)$acr1)"}
# ctx.h's inline switch (x86_64) resumes at "leaq 128(%rsp), %rsp": there
# the function's own rsp is 128 bytes further up.
RED_ZONE_BACK = bytes([0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00])

# The services' wait notes (coil__wait_kind, src/task/task.h), by symbol:
# a core cannot call their describers, so the kind is named in words.
WAIT_WORDS = {
    "fd_wait": "an fd (coil_read, coil_accept, ...)",
    "sync_wait": "a lock, event, semaphore, condition, barrier or queue",
    "sleep_wait": "a timer (coil_sleep)",
    "tfuture_wait": "a thread-safe future",
    "job_wait_kind": "an executor job (coil_to_thread)",
    "slot_wait_kind": "a free slot in the executor's queue",
    "signal_wait": "a signal (coil_wait_signal)",
}

TASK_FIELDS = ("version", "runq_tasks", "link", "id", "name", "fn_name",
               "coro", "started", "state", "coro_ctx", "coro_state",
               "wait_kind", "awaiting", "cancel_requests", "shield_depth",
               "size", "runq_thread")


def arch():
    name = gdb.selected_inferior().architecture().name()
    if "x86-64" in name or "x86_64" in name:
        return "x86_64"
    if "aarch64" in name:
        return "aarch64"
    if name.startswith("riscv"):
        return "riscv64"
    if name.startswith("powerpc") and "little endian" in \
            gdb.execute("show endian", to_string=True):
        return "ppc64le"
    if name == "s390:64-bit":
        return "s390x"
    raise gdb.GdbError("coil: no frame layout for architecture " + name)


def frame_layout():
    """The saved frame of this process's switch: coil's own, or Boost's
    if the library was built over fcontext."""
    try:
        fcontext = symbol_address("coil__gdb_fcontext") is not None
    except gdb.GdbError:
        fcontext = False
    frames = FCONTEXT_FRAMES if fcontext else FRAMES
    if arch() not in frames:
        raise gdb.GdbError("coil: no %s frame layout for %s" %
                           ("fcontext" if fcontext else "native", arch()))
    return frames[arch()], fcontext


def inferior():
    return gdb.selected_inferior()


ENDIAN = {}


def byte_order():
    """"little" or "big" (s390x), asked of gdb once per architecture."""
    name = inferior().architecture().name()
    if name not in ENDIAN:
        shown = gdb.execute("show endian", to_string=True)
        ENDIAN[name] = "big" if "big endian" in shown else "little"
    return ENDIAN[name]


def word(addr):
    return int.from_bytes(inferior().read_memory(addr, 8).tobytes(),
                          byte_order())


def u8(addr):
    return inferior().read_memory(addr, 1).tobytes()[0]


def i32(addr):
    return int.from_bytes(inferior().read_memory(addr, 4).tobytes(),
                          byte_order(), signed=True)


def cstring(addr, limit=64):
    if addr == 0:
        return ""
    raw = inferior().read_memory(addr, limit).tobytes()
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def symbol_address(name):
    sym = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    if sym is not None:
        return int(sym.value().address)
    try:
        return int(gdb.parse_and_eval("(unsigned long)&'%s'" % name))
    except gdb.error:
        raise gdb.GdbError("coil: no %s here: is this program linked with "
                           "coil (and not stripped)?" % name)


def symbol_name(addr):
    """The minimal symbol at addr, or a hex address."""
    try:
        text = gdb.execute("info symbol %#x" % addr, to_string=True)
    except gdb.error:
        return "%#x" % addr
    if text.startswith("No symbol"):
        return "%#x" % addr
    return text.split(" in section")[0].strip()


class Layout:
    def __init__(self):
        base = symbol_address("coil__gdb_tasks")
        self.t = {f: word(base + 8 * i) for i, f in enumerate(TASK_FIELDS)}
        loops = symbol_address("coil__gdb_loops")
        self.table, self.buckets, self.inbox_loop, self.inbox_next = (
            word(loops + 8 * i) for i in range(1, 5))

    def loops(self):
        for b in range(self.buckets):
            inbox = word(self.table + 8 * b)
            while inbox:
                yield word(inbox + self.inbox_loop)
                inbox = word(inbox + self.inbox_next)

    def tasks(self, loop):
        head = loop + self.t["runq_tasks"]
        node = word(head + 8)          # coil__list: prev, next
        seen = 0
        while node != head and seen < 10000000:
            yield Task(self, loop, node - self.t["link"])
            node = word(node + 8)
            seen += 1


class Task:
    def __init__(self, layout, loop, addr):
        t = layout.t
        self.loop = loop
        self.addr = addr
        self.id = word(addr + t["id"])
        self.name = cstring(addr + t["name"]) or "Task-%d" % self.id
        self.fn = cstring(word(addr + t["fn_name"]))
        self.state = STATE.get(u8(addr + t["state"]), "?")
        self.started = u8(addr + t["started"])
        self.coro = word(addr + t["coro"])
        self.coro_state = u8(self.coro + t["coro_state"]) if self.coro else 0
        self.sp = word(self.coro + t["coro_ctx"]) if self.coro else 0
        kind = word(addr + t["wait_kind"])
        awaiting = word(addr + t["awaiting"])
        self.wait = (WAIT_WORDS.get(symbol_name(kind), symbol_name(kind))
                     if kind else
                     "a task or future %#x" % awaiting if awaiting else "")
        self.cancel_requests = i32(addr + t["cancel_requests"])
        self.shield_depth = i32(addr + t["shield_depth"])

    def suspended(self):
        return self.started and self.coro and \
            self.coro_state == CORO_SUSPENDED

    def registers(self):
        """The registers of the task's caller frame: {name: value}."""
        f, fcontext = frame_layout()
        regs = {r: word(self.sp + off) for r, off in f["regs"].items()}
        pc = word(self.sp + f["pc"])
        sp = self.sp + f["sp"]
        if arch() == "x86_64" and not fcontext and \
                inferior().read_memory(pc, 8).tobytes() == RED_ZONE_BACK:
            sp += 128
        regs[f["pc_reg"]] = pc
        regs[f["sp_reg"]] = sp
        return regs


def all_tasks():
    layout = Layout()
    for loop in layout.loops():
        for task in layout.tasks(loop):
            yield task


def find_task(which):
    which = which.strip()
    for task in all_tasks():
        if str(task.id) == which or task.name == which:
            return task
    raise gdb.GdbError("coil: no live task '%s' (coil tasks lists them)"
                       % which)


def loop_thread(task):
    """The gdb thread that runs task's loop: the one whose thread pointer
    is nearest the loop's owner token (a thread-local of that thread), or
    the selected thread if that cannot be told."""
    token = word(task.loop + Layout().t["runq_thread"])
    best, best_d = None, None
    reg = THREAD_POINTER[arch()]
    current = gdb.selected_thread()
    for th in inferior().threads():
        try:
            th.switch()
            tp = int(gdb.parse_and_eval("(unsigned long)" + reg))
        except gdb.error:
            continue
        # The static TLS block lies below the pointer on x86_64 and s390x,
        # above it on aarch64 and riscv64, and on ppc64 up to 0x7000 below
        # it: the nearest pointer either way is the owner's.
        d = abs(tp - token)
        if best_d is None or d < best_d:
            best, best_d = th, d
    current.switch()
    return best or current


# ---------------------------------------------------------- the unwinder

selected = {"task": None, "thread": None}


class TaskUnwinder(gdb.unwinder.Unwinder):
    """Claims the innermost frame of the selected task's loop thread and
    gives, as its caller's registers, those the task's context saved."""

    def __init__(self):
        super().__init__("coil-task")

    def __call__(self, pending_frame):
        task = selected["task"]
        if task is None or pending_frame.level() != 0 or \
                gdb.selected_thread() != selected["thread"]:
            return None
        f = frame_layout()[0]
        pc = pending_frame.read_register(f["pc_reg"])
        # The frame's id is placed at the task's saved sp, below the task's
        # frames: gdb refuses a caller whose frame is "inner" (lower) than
        # its callee's, and the task's stack may lie below the thread's.
        stack = gdb.Value(task.sp).cast(gdb.lookup_type("void").pointer())
        info = pending_frame.create_unwind_info(FrameId(stack, pc))
        long_t = gdb.lookup_type("long")
        code_t = gdb.lookup_type("void").pointer()
        for reg, value in task.registers().items():
            t = code_t if reg in (f["pc_reg"], f["sp_reg"]) else long_t
            info.add_saved_register(reg, gdb.Value(value).cast(t))
        return info


class FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


def select(task):
    selected["task"] = task
    selected["thread"] = loop_thread(task) if task else None
    if task:
        selected["thread"].switch()
    gdb.invalidate_cached_frames()


# ----------------------------------------------------------- the commands

class Coil(gdb.Command):
    """coil tasks | coil bt <id|name> | coil task <id|name|none>"""

    def __init__(self):
        super().__init__("coil", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class CoilTasks(gdb.Command):
    """List every live task of every loop: coil tasks."""

    def __init__(self):
        super().__init__("coil tasks", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        n = 0
        for t in all_tasks():
            n += 1
            state = t.state
            if t.state in ("pending", "running") and t.started:
                state = ("suspended" if t.coro_state == CORO_SUSPENDED
                         else "running")
            elif not t.started:
                state = "not started"
            cancel = ""
            if t.cancel_requests:
                cancel = ", %d cancel request(s)" % t.cancel_requests
            if t.shield_depth:
                cancel += ", shielded"
            print("task %d '%s' fn=%s loop=%#x: %s%s%s" % (
                t.id, t.name, t.fn, t.loop, state,
                ", waits on " + t.wait if t.wait else "", cancel))
        print("coil: %d live task%s" % (n, "" if n == 1 else "s"))


class CoilBt(gdb.Command):
    """Backtrace of a suspended task: coil bt <id|name> [bt options].
    Frame 0 is the loop thread's own innermost frame (marked by the
    unwinder); the task's frames follow it."""

    def __init__(self):
        super().__init__("coil bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split(None, 1)
        if not args:
            raise gdb.GdbError("usage: coil bt <id|name>")
        task = find_task(args[0])
        if not task.suspended():
            raise gdb.GdbError("coil: task %d '%s' is not suspended (%s): "
                               "it has no saved context" %
                               (task.id, task.name, task.state))
        before = (selected["task"], selected["thread"])
        select(task)
        try:
            print("task %d '%s' fn=%s (frame 0 is its loop thread's own)" %
                  (task.id, task.name, task.fn))
            gdb.execute("bt " + (args[1] if len(args) > 1 else ""))
        finally:
            if before[0] is None:
                select(None)


class CoilTask(gdb.Command):
    """Select a suspended task: coil task <id|name>; coil task none.
    While one is selected, bt, frame N and info locals see its stack."""

    def __init__(self):
        super().__init__("coil task", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        if arg.strip() in ("", "none"):
            select(None)
            print("coil: no task selected")
            return
        task = find_task(arg)
        if not task.suspended():
            raise gdb.GdbError("coil: task %d '%s' is not suspended" %
                               (task.id, task.name))
        select(task)
        print("coil: task %d '%s' selected: frame 1 is where it suspended"
              % (task.id, task.name))


Coil()
CoilTasks()
CoilBt()
CoilTask()
gdb.unwinder.register_unwinder(None, TaskUnwinder(), replace=True)
