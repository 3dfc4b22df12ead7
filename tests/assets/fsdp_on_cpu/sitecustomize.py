"""A test stand-in, put on PYTHONPATH by tests/test_sharded.py: accelerate turns FSDP on only on
accelerators (on CPU a FSDP config quietly becomes plain data parallel). With
GENRM_TEST_FSDP_ON_CPU=1 the FSDP plugin is kept on CPU too, so FSDP's own code (fully_shard over
gloo, rank-0 loading, full-state-dict gathering) runs in a 2-process CPU launch."""
import os

if os.environ.get("GENRM_TEST_FSDP_ON_CPU") == "1":
    import accelerate.state as _state

    _init = _state.AcceleratorState.__init__

    def __init__(self, *args, fsdp_plugin=None, **kwargs):
        _init(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == _state.DistributedType.MULTI_CPU:
            self.distributed_type = _state.DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin

    _state.AcceleratorState.__init__ = __init__
