"""Rate–distortion analysis: Bjøntegaard delta rate and quality between two RD curve sets.

:mod:`iqa.rd.bdrate` holds the math (equal to the ``bjontegaard`` package),
:mod:`iqa.rd.curves` reads RD points from CSV files or ``iqa compare`` JSON,
:mod:`iqa.rd.report` pairs the sequences of ANCHOR and TEST and averages them,
:mod:`iqa.rd.gates` parses ``bd_rate(psnr)>0.5`` gates and :mod:`iqa.rd.plot` draws RD
curves (matplotlib, imported only there).
"""
