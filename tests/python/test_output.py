"""Spec.save and its writer (mhacheck._output.write_output): nothing at the path is destroyed
that mhacheck's own -o would keep (docs/limits.md, "Output paths")."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

import torch.nn as nn

import mhacheck
from mhacheck._output import write_output


class Scale(nn.Module):
    def forward(self, x):
        return (x * 2).relu()


class OutputTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="mhacheck-output-")
        self.addCleanup(shutil.rmtree, self.folder)

    def path(self, name):
        return os.path.join(self.folder, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def test_existing_file_keeps_its_mode_and_leaves_no_temporary(self):
        with open(self.path("a.json"), "w") as f:
            f.write("old")
        os.chmod(self.path("a.json"), 0o640)
        write_output(self.path("a.json"), b"new")
        self.assertEqual(self.read("a.json"), b"new")
        self.assertEqual(stat.S_IMODE(os.stat(self.path("a.json")).st_mode), 0o640)
        self.assertEqual(os.listdir(self.folder), ["a.json"])

    def test_new_file_takes_the_umask(self):
        umask = os.umask(0o027)
        try:
            write_output(self.path("n.json"), b"x")
        finally:
            os.umask(umask)
        self.assertEqual(stat.S_IMODE(os.stat(self.path("n.json")).st_mode), 0o640)

    def test_symlink_chain_is_followed_and_kept(self):
        os.mkdir(self.path("real"))
        with open(self.path("real/target.json"), "w") as f:
            f.write("old")
        os.symlink("real/target.json", self.path("hop"))
        os.symlink(self.path("hop"), self.path("link.json"))
        write_output(self.path("link.json"), b"new")
        self.assertTrue(os.path.islink(self.path("link.json")))
        self.assertTrue(os.path.islink(self.path("hop")))
        self.assertEqual(self.read("real/target.json"), b"new")
        os.symlink("missing.json", self.path("dangling"))
        write_output(self.path("dangling"), b"made")
        self.assertTrue(os.path.islink(self.path("dangling")))
        self.assertEqual(self.read("missing.json"), b"made")

    def test_symlink_loop_is_an_error(self):
        os.symlink("b", self.path("a"))
        os.symlink("a", self.path("b"))
        with self.assertRaises(OSError):
            write_output(self.path("a"), b"x")
        self.assertTrue(os.path.islink(self.path("a")))

    def test_fifo_is_written_directly_and_stays_a_fifo(self):
        os.mkfifo(self.path("pipe"))
        received = []

        def read_pipe():
            with open(self.path("pipe"), "rb") as pipe:
                received.append(pipe.read())

        reader = threading.Thread(target=read_pipe)
        reader.start()
        write_output(self.path("pipe"), b"through the pipe")
        reader.join(10)
        self.assertEqual(received, [b"through the pipe"])
        self.assertTrue(stat.S_ISFIFO(os.stat(self.path("pipe")).st_mode))

    def test_character_device_and_directory(self):
        self.assertEqual(write_output(os.devnull, b"x"), os.devnull)
        self.assertTrue(stat.S_ISCHR(os.stat(os.devnull).st_mode))
        with self.assertRaises(IsADirectoryError):
            write_output(self.folder, b"x")

    def test_dash_is_standard_output(self):
        code = "from mhacheck._output import write_output; write_output('-', b'to stdout')"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                             env=dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "python")))
        self.assertEqual(out.stdout, b"to stdout")

    def test_a_folder_that_does_not_exist_is_named(self):
        missing = self.path("missing")
        with self.assertRaisesRegex(FileNotFoundError, "the folder " + missing + " does not exist"):
            write_output(os.path.join(missing, "spec.json"), b"x")
        # the command line: an error naming the folder, exit code 2, no traceback
        done = subprocess.run([sys.executable, "-m", "mhacheck", "trace", "test_output:Scale", "--input", "x=B,4",
                               "-o", os.path.join(missing, "spec.json")], capture_output=True, text=True, check=False,
                              cwd=os.path.dirname(os.path.abspath(__file__)),
                              env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                  [os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "python"),
                                   os.path.dirname(os.path.abspath(__file__))])))
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn(f"error: [Errno 2] cannot write here: the folder {missing} does not exist", done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        self.assertFalse(os.path.exists(missing))

    def test_inputs_are_refused(self):
        with open(self.path("model.py"), "w") as f:
            f.write("source")
        os.link(self.path("model.py"), self.path("hard.py"))
        for name in ("model.py", "hard.py"):
            with self.assertRaisesRegex(ValueError, "refusing to overwrite an input"):
                write_output(self.path(name), b"x", inputs=[self.path("model.py")])
        self.assertEqual(self.read("model.py"), b"source")

    def test_spec_save_refuses_the_model_source_and_writes_through_links(self):
        spec = mhacheck.trace(Scale(), (mhacheck.shape("B", 4),), values=True)
        source = spec.sources()
        self.assertEqual(source, [os.path.abspath(__file__)])
        with self.assertRaisesRegex(ValueError, "refusing to overwrite an input"):
            spec.save(__file__)
        os.symlink("target.json", self.path("spec.json"))
        spec.save(self.path("spec.json"))
        self.assertTrue(os.path.islink(self.path("spec.json")))
        self.assertIn(b'"op": "mul"', self.read("target.json"))
        self.assertTrue(os.path.exists(self.path("spec.npz")))
        self.assertTrue(os.path.exists(self.path("spec.expected.npz")))
        with self.assertRaisesRegex(ValueError, "two outputs"):
            spec.save(self.path("x.npz"))


if __name__ == "__main__":
    unittest.main()
