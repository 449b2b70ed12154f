"""Stand-in for LatentSync's ``scripts/inference.py`` (bytedance/LatentSync), for the adapter's
contract tests: the same command line and the documented behaviours, no model.

- flags as the real argparse declares them (1.5's eight, plus HEAD's --temp_dir and
  --enable_deepcache); missing inputs raise RuntimeError("Video path '...' not found");
- resources relative to the working directory: the UNet config and the checkpoint (a
  missing one fails at load: traceback, exit 1), configs/scheduler_config.json;
- ``temp/`` in the working directory is wiped and refilled with the 25 fps re-encode
  (``ffmpeg -i VIDEO -r 25 -crf 18 temp/video.mp4``), whatever --temp_dir says;
- a frame without a frontal face: ``RuntimeError("Face not detected")``, uncaught;
- frame count: ``STANDIN_VERSION=1.5`` keeps min(video frames, audio chunks) // 16 * 16
  frames; otherwise (1.6 / HEAD) the audio's chunk count floor(samples / 640) + 2, looping the
  video forward and back;
- output: silent video and 16 kHz audio in the temp dir, muxed with ffmpeg to
  --video_out_path, the mux's exit code unchecked (``STANDIN_FAIL_MUX=1`` makes it fail);
- ``STANDIN_HANG_S`` sleeps first; every call appends argv and cwd to ``STANDIN_LOG``.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import soundfile


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unet_config_path", type=str, default="configs/unet.yaml")
    parser.add_argument("--inference_ckpt_path", type=str, required=True)
    parser.add_argument("--video_path", type=str, required=True)
    parser.add_argument("--audio_path", type=str, required=True)
    parser.add_argument("--video_out_path", type=str, required=True)
    parser.add_argument("--inference_steps", type=int, default=20)
    parser.add_argument("--guidance_scale", type=float, default=1.0)
    parser.add_argument("--temp_dir", type=str, default="temp")
    parser.add_argument("--seed", type=int, default=1247)
    parser.add_argument("--enable_deepcache", action="store_true")
    return parser.parse_args()


def read_video(video_path):
    shutil.rmtree("temp", ignore_errors=True)
    os.makedirs("temp", exist_ok=True)
    os.system(f"ffmpeg -loglevel error -y -nostdin -i {video_path} -r 25 -crf 18 temp/video.mp4")
    capture = cv2.VideoCapture("temp/video.mp4")
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def check_faces(frames):
    root = Path(cv2.data.haarcascades)
    cascade = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
    print(f"Affine transforming {len(frames)} faces...")
    for frame in frames:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if len(cascade.detectMultiScale(grey, 1.1, 5, minSize=(64, 64))) == 0:
            raise RuntimeError("Face not detected")


def frame_count(frames, samples):
    chunks = len(samples) // 640 + 2
    if os.environ.get("STANDIN_VERSION") == "1.5":
        return min(len(frames), chunks) // 16 * 16
    return chunks


def looped(frames, count):
    cycle = frames + frames[::-1]
    return [cycle[i % len(cycle)] for i in range(count)]


def main(args):
    if os.environ.get("STANDIN_LOG"):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}) + "\n")
    for path in (args.video_path, args.audio_path):
        if not os.path.exists(path):
            raise RuntimeError(f"Video path '{path}' not found")
    print(f"Input video path: {args.video_path}")
    print(f"Input audio path: {args.audio_path}")
    for resource in (
        args.unet_config_path,
        args.inference_ckpt_path,
        "configs/scheduler_config.json",
    ):
        if not os.path.isfile(resource):
            raise FileNotFoundError(resource)
    print(f"Loaded checkpoint path: {args.inference_ckpt_path}")
    time.sleep(float(os.environ.get("STANDIN_HANG_S", "0")))
    frames = read_video(args.video_path)
    samples, _rate = soundfile.read(args.audio_path, dtype="float32")
    check_faces(frames)
    count = frame_count(frames, samples)
    picture = looped(frames, count)
    shutil.rmtree(args.temp_dir, ignore_errors=True)
    os.makedirs(args.temp_dir, exist_ok=True)
    height, width = picture[0].shape[:2]
    writer = cv2.VideoWriter(
        f"{args.temp_dir}/video.mp4", cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height)
    )
    for frame in picture:
        writer.write(frame)
    writer.release()
    audio = np.asarray(samples)[: int(count / 25 * 16000)]
    soundfile.write(f"{args.temp_dir}/audio.wav", audio, 16000)
    if os.environ.get("STANDIN_FAIL_MUX"):
        args.video_out_path = os.path.join("missing-dir", "out.mp4")
    subprocess.call(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-nostdin",
            "-i",
            f"{args.temp_dir}/video.mp4",
            "-i",
            f"{args.temp_dir}/audio.wav",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-c:a",
            "aac",
            "-q:v",
            "0",
            "-q:a",
            "0",
            args.video_out_path,
        ]
    )


if __name__ == "__main__":
    main(arguments())
