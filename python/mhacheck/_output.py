"""Writing a file without destroying what is at the path: the Python side of the C++
`write_output` (docs/limits.md, "Output paths").

- `-` is standard output;
- a symlink (or a chain of them) is followed hop by hop and its final target written, the links
  kept; a loop is an error;
- a character device, FIFO or socket is opened and written directly, and stays what it is;
- a directory or block device is refused;
- a regular file (or a new one) is written to a temporary file in the same folder and renamed
  over it, keeping an existing file's mode (and owner, where the process may set it); a failed
  write leaves the old file and no temporary file;
- a path that is one of `inputs` (also through a link) is refused before anything is written.
"""
import errno
import os
import stat
import sys
import tempfile

_MAX_HOPS = 40


def final_target(path):
    """The path with every symlink of its last component followed (relative links against their
    own folder); OSError(ELOOP) after too many hops."""
    path = os.path.abspath(path)
    for _ in range(_MAX_HOPS):
        if not os.path.islink(path):
            return path
        link = os.readlink(path)
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def write_output(path, data, inputs=()):
    """Writes `data` (bytes) to `path` as described in the module docstring; returns the path
    written (the final target of a symlink). Raises OSError or ValueError, naming the path."""
    path = os.fspath(path)
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return path
    for known in inputs:
        if os.path.exists(path) and _same_file(path, known):
            raise ValueError(f"refusing to overwrite an input: {path}")
    target = final_target(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if info is not None and stat.S_ISBLK(info.st_mode):
        raise OSError(errno.EINVAL, "is a block device (or another special file); refusing to write to it", path)
    if info is not None and not stat.S_ISREG(info.st_mode):  # a character device, FIFO or socket
        if stat.S_ISSOCK(info.st_mode):
            import socket
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(target)
                connection.sendall(data)
            return target
        with open(target, "wb", buffering=0) as out:
            out.write(data)
        return target
    folder = os.path.dirname(target)
    if not os.path.isdir(folder or "."):
        # mkstemp would name its temporary file, not the path asked for
        raise FileNotFoundError(errno.ENOENT, f"cannot write here: the folder {folder} does not exist", path)
    descriptor, temporary = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if info is not None:
            os.chmod(temporary, stat.S_IMODE(info.st_mode))
            try:
                os.chown(temporary, info.st_uid, info.st_gid)
            except PermissionError:
                pass  # only root may give a file away; the mode is kept all the same
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return target
