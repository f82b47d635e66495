"""What compiled loops (numba) need to share work between two threads without the GIL: atomic
operations on int64 array elements, a spin-wait hint, and a prefetch hint. numba has none of
them; each is one LLVM instruction, emitted here.

Why: waking a sleeping thread costs tens to hundreds of microseconds on a virtual machine, and
handing it the GIL as much again; a helper that waits in compiled code takes its share of a
question's search within a microsecond of it being published (bot/topk.py).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.extending import intrinsic

# Called from compiled code with the arguments after typingctx: typed so for the type checker.
_compiled = cast(Callable[[Callable[..., Any]], Callable[..., Any]], intrinsic)

# The pause instruction tells an x86 core it is spinning (less power, no memory-order stall when
# the awaited store lands); other architectures spin without a hint.
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _element(context, builder, array_type, array, index, index_type):
    """The address of array[index], for an instruction that takes a pointer."""
    view = context.make_array(array_type)(context, builder, array)
    at = context.cast(builder, index, index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, view, [at], wraparound=False)


@_compiled
def atomic_add(typingctx, array, index, value):
    """array[index] += value, atomically (sequentially consistent); returns the value before."""
    signature = types.int64(array, index, value)

    def codegen(context, builder, sig, args):
        pointer = _element(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        amount = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", pointer, amount, "seq_cst")

    return signature, codegen


@_compiled
def atomic_load(typingctx, array, index):
    """array[index], read again every time (never hoisted out of a loop), sequentially consistent."""
    signature = types.int64(array, index)

    def codegen(context, builder, sig, args):
        pointer = _element(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        return builder.load_atomic(pointer, "seq_cst", 8)

    return signature, codegen


@_compiled
def atomic_store(typingctx, array, index, value):
    """array[index] = value, seen by the other thread after every store before it."""
    signature = types.void(array, index, value)

    def codegen(context, builder, sig, args):
        pointer = _element(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        builder.store_atomic(context.cast(builder, args[2], sig.args[2], types.int64), pointer, "seq_cst", 8)
        return context.get_dummy_value()

    return signature, codegen


@_compiled
def spin_pause(typingctx):
    """One round of a spin-wait: the x86 pause hint, nothing elsewhere."""
    signature = types.void()

    def codegen(context, builder, sig, args):
        if _X86:
            pause = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(pause, [])
        return context.get_dummy_value()

    return signature, codegen


@_compiled
def prefetch(typingctx, array, index):
    """Start loading array[index] into the caches (a hint: no fault, no effect on results)."""
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        pointer = _element(context, builder, sig.args[0], args[0], args[1], sig.args[1])
        byte = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        # read, keep in all cache levels, data cache
        builder.call(
            hint, [builder.bitcast(pointer, byte), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        )
        return context.get_dummy_value()

    return signature, codegen
