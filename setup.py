"""Packaging for pssh-ng, which installs the ``pssh`` import package."""

import os
import re

from setuptools import find_packages, setup

HERE = os.path.abspath(os.path.dirname(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding='utf-8') as fh:
        return fh.read()


def find_version():
    # Read the version without importing pssh: its dependencies may not be
    # installed yet when setup.py runs.
    match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]",
                      read('pssh', '__init__.py'), re.MULTILINE)
    if match is None:
        raise RuntimeError('__version__ not found in pssh/__init__.py')
    return match.group(1)


setup(
    name='pssh-ng',
    version=find_version(),
    description=('Parallel SSH client library on libssh2 and libssh with gevent, '
                 'a drop-in replacement for parallel-ssh'),
    long_description=read('README.rst'),
    long_description_content_type='text/x-rst',
    author='the pssh developers',
    license='MIT',
    packages=find_packages(exclude=['tests', 'tests.*', 'benchmarks', 'benchmarks.*',
                                    'examples', 'examples.*', 'docs', 'docs.*']),
    package_data={'pssh': ['py.typed']},
    include_package_data=False,
    zip_safe=False,
    python_requires='>=3.9',
    install_requires=[
        'gevent>=21.1',
        'ssh2-python>=1.0',
        'ssh-python>=1.0',
    ],
    extras_require={
        # paramiko: the hostile SSH server of tests/peers/hostile_server.py
        # (pinned: its hooks follow this version's framing of packets).
        'test': ['pytest', 'pytest-timeout', 'paramiko==5.1.0', 'pytest-xdist>=3.3', 'uvloop'],
        'docs': ['sphinx'],
    },
    entry_points={
        # Named after the module, so that a test suite that also loads it with
        # ``-p pssh.testing.pytest_plugin`` or ``pytest_plugins`` gets it once,
        # instead of pytest refusing the same module under a second name.
        'pytest11': ['pssh.testing.pytest_plugin = pssh.testing.pytest_plugin'],
        # The command line: pssh -H 'web[01-04]' -- uptime (also python -m pssh).
        'console_scripts': ['pssh = pssh.cli:_entry'],
    },
    keywords='ssh parallel-ssh libssh2 libssh gevent sftp scp',
    classifiers=[
        'Development Status :: 3 - Alpha',
        'Intended Audience :: Developers',
        'Intended Audience :: System Administrators',
        'License :: OSI Approved :: MIT License',
        'Operating System :: POSIX :: Linux',
        'Operating System :: MacOS :: MacOS X',
        'Programming Language :: Python',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3 :: Only',
        'Programming Language :: Python :: 3.9',
        'Programming Language :: Python :: 3.10',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
        'Programming Language :: Python :: Implementation :: CPython',
        'Framework :: Pytest',
        'Topic :: System :: Networking',
        'Topic :: System :: Systems Administration',
        'Topic :: Software Development :: Libraries',
        'Typing :: Typed',
    ],
)
