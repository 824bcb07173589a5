"""Build of the compiled part: the statement reader's subtree walk (see pyproject.toml for
everything else). It reads lxml's element structs, so it compiles against lxml's headers."""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [
            Extension(
                "adapters.iso20022._walk",
                ["adapters/iso20022/_walk.pyx"],
                include_dirs=lxml.get_include(),
            )
        ],
        compiler_directives={"language_level": "3"},
    )
)
