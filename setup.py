from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name: str) -> list:
    lines = Path(__file__).parent.joinpath('requirements', name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='mimlab',
    version='0.1.0',
    description='Masked image modeling pretraining (MAE, MFF, CAE, DDeP) in the OpenMMLab style',
    long_description=Path(__file__).parent.joinpath('README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mimlab', 'mimlab.*']),
    python_requires='>=3.10',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'downstream': read_requirements('downstream.txt'),
        'tests': read_requirements('tests.txt'),
    },
    license='Apache-2.0',
)
