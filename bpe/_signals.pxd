"""Ctrl-C during long GIL-free work: the kernels ask `interrupted()` now and then (every
few milliseconds of work), and stop; the entry point then raises what Python's handler
raised (`raise_pending`). Only the main thread handles signals, so an entry point watches
only when it runs there and its work is long (`watch`); elsewhere nothing is taken."""

cdef extern from "Python.h":
    int PyErr_CheckSignals()        # declared without except: the error stays set for
    unsigned long PyThread_get_thread_ident() nogil     # raise_pending to raise


cdef inline bint interrupted() noexcept nogil:
    """Whether a signal handler raised (KeyboardInterrupt, say); the error is left set."""
    with gil:
        return PyErr_CheckSignals() != 0


cdef inline int raise_pending() except -1:
    """Raise the error interrupted() left set."""
    return -1


cdef inline bint watch(Py_ssize_t work, Py_ssize_t long_work):
    """Whether to watch for signals: work of at least long_work, on the main thread."""
    if work < long_work:
        return False
    import threading
    return PyThread_get_thread_ident() == threading.main_thread().ident
