"""``scoreinv bench denoise``'s BM3D column: the same noise draws as the prior, the table, the note when missing."""
from __future__ import annotations

import pytest
import skimage.io
import torch

from scoreinv.baselines import blockmatching
from scoreinv.bench import denoise_report
from scoreinv.bench.denoise import denoise_benchmark, noisy, psnr_db
from scoreinv.priors.registry import load_prior

from conftest import smooth_picture

SIGMA = 0.1


def pictures(folder, count: int = 2):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        skimage.io.imsave(str(folder / f"pic{i}.png"), smooth_picture(32, 40, seed=i), check_contrast=False)
    return folder


def test_table_with_and_without_bm3d():
    summary = {"psnr": {"25/255": 30.0}, "gaussian_filter_psnr": {"25/255": 25.0}}
    assert denoise_report.denoise_table(summary).splitlines() == [
        "| sigma | prior PSNR (dB) | Gaussian filter PSNR (dB) |", "| --- | --- | --- |", "| 25/255 | 30.00 | 25.00 |"]
    lines = denoise_report.denoise_table({**summary, "bm3d_psnr": {"25/255": 30.5}}).splitlines()
    assert lines[0].endswith("| BM3D PSNR (dB) | prior − BM3D (dB) |") and lines[1].count("---") == 5
    assert lines[2] == "| 25/255 | 30.00 | 25.00 | 30.50 | -0.50 |"


@pytest.mark.skipif(not blockmatching.available(), reason="the optional bm3d package is not installed")
def test_bm3d_column_uses_the_prior_s_noise_draws(tiny_prior, tmp_path):
    from scoreinv.io.datasets import load_images

    images = load_images(str(pictures(tmp_path / "pics")), channels=1)
    denoiser = load_prior(str(tiny_prior), device="cpu", precision="fp32")
    result = denoise_benchmark(denoiser, images, sigmas=[SIGMA], bm3d=True, seed=3, progress=False)
    for i, ((name, x), row) in enumerate(zip(images, result["per_image"])):
        y = noisy(x, SIGMA, 3 + i)
        assert row["image"] == name
        assert row["bm3d"] == pytest.approx(psnr_db(blockmatching.bm3d_denoise(y[None], sigma=SIGMA)[0], x))
        assert row["bm3d"] > psnr_db(y, x) + 5
    assert result["bm3d"][SIGMA] == pytest.approx(sum(r["bm3d"] for r in result["per_image"]) / len(images))


def test_missing_bm3d_is_skipped_with_a_note(tiny_prior, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(denoise_report, "available", lambda: False)
    monkeypatch.setattr(blockmatching, "available", lambda: False)
    monkeypatch.setattr(blockmatching, "_noted", False)
    denoiser = load_prior(str(tiny_prior), device="cpu", precision="fp32")
    summary, command = denoise_report.measure_denoising(denoiser, "tiny", dataset=str(pictures(tmp_path / "pics")),
                                                        sigmas=[SIGMA], baseline=False, bm3d=True, progress=False)
    assert "bm3d_psnr" not in summary and "--bm3d" not in command
    assert "scoreinv[bm3d]" in capsys.readouterr().err
    assert torch.isfinite(torch.tensor(list(summary["psnr"].values()))).all()


def test_denoise_command_writes_its_table_into_a_docs_section(tiny_prior, tmp_path):
    from click.testing import CliRunner

    from scoreinv.cli import main

    page = tmp_path / "page.md"
    page.write_text("# page\n<!-- begin d -->\nold\n<!-- end d -->\nafter\n")
    data = pictures(tmp_path / "pics")
    result = CliRunner().invoke(main, ["bench", "denoise", "--prior", str(tiny_prior), "--data", str(data),
                                       "--sigmas", "0.1", "--device", "cpu", "--markdown", str(page),
                                       "--section", "d"])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "old" not in text and text.endswith("<!-- end d -->\nafter\n")
    assert f"Produced by: `scoreinv bench denoise --prior {tiny_prior}" in text
    row = [line for line in text.splitlines() if line.startswith("| 26/255 |")]  # σ = 0.1 shown as a /255 level
    assert len(row) == 1 and row[0] in result.output
    # a missing section is refused before any work
    bad = CliRunner().invoke(main, ["bench", "denoise", "--prior", str(tiny_prior), "--data", str(data),
                                    "--sigmas", "0.1", "--markdown", str(page), "--section", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output
