"""Stand-in for MuseTalk 1.5's ``scripts/inference.py`` (TMElyralab/MuseTalk), for the
adapter's contract tests: the same command line and the documented behaviours, no model.

- flags as the real argparse declares them; the task YAML's ``video_path``/``audio_path``;
- models are looked up relative to the working directory (``./models/musetalkV15/unet.pth``);
  missing, it fails at start with a traceback and exit 1, as the real import does;
- output ``<result_dir>/<version>/<video stem>_<audio stem>.mp4``, frames written as PNGs and
  encoded with ffmpeg at ``--fps``, then muxed with the audio (the real script's two commands);
- a frame without a frontal face ends the PNG sequence there (the real paste loop skips it
  and ffmpeg stops at the gap): a video truncated at the first faceless frame, exit 0; no face
  in the first five frames: no file, exit 0; every task failure prints and exits 0;
- ``STANDIN_HANG_S`` makes it sleep first (a long GPU call, for termination tests), only
  once ``STANDIN_LOG`` holds ``STANDIN_HANG_AFTER`` calls when that is set (a node that dies
  in its second call);
- every call appends its argv and working directory to ``STANDIN_LOG`` when set.
"""

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import yaml


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ffmpeg_path", type=str, default="./ffmpeg-4.4-amd64-static/")
    parser.add_argument("--gpu_id", type=int, default=0)
    parser.add_argument("--vae_type", type=str, default="sd-vae")
    parser.add_argument("--unet_config", type=str, default="./models/musetalk/config.json")
    parser.add_argument("--unet_model_path", type=str, default="./models/musetalkV15/unet.pth")
    parser.add_argument("--whisper_dir", type=str, default="./models/whisper")
    parser.add_argument("--inference_config", type=str, default="configs/inference/test_img.yaml")
    parser.add_argument("--bbox_shift", type=int, default=0)
    parser.add_argument("--result_dir", default="./results")
    parser.add_argument("--extra_margin", type=int, default=10)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--audio_padding_length_left", type=int, default=2)
    parser.add_argument("--audio_padding_length_right", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--output_vid_name", type=str, default=None)
    parser.add_argument("--use_saved_coord", action="store_true")
    parser.add_argument("--saved_coord", action="store_true")
    parser.add_argument("--use_float16", action="store_true")
    parser.add_argument("--parsing_mode", default="jaw")
    parser.add_argument("--left_cheek_width", type=int, default=90)
    parser.add_argument("--right_cheek_width", type=int, default=90)
    parser.add_argument("--version", type=str, default="v15", choices=["v1", "v15"])
    return parser.parse_args()


def has_face(cascade, frame):
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return len(cascade.detectMultiScale(grey, 1.1, 5, minSize=(64, 64))) > 0


def run_task(args, task):
    video, audio = task["video_path"], task["audio_path"]
    vb, ab = os.path.basename(video).split(".")[0], os.path.basename(audio).split(".")[0]
    out_dir = os.path.join(args.result_dir, args.version)
    os.makedirs(out_dir, exist_ok=True)
    output = os.path.join(out_dir, task.get("result_name") or f"{vb}_{ab}.mp4")
    pngs = os.path.join(out_dir, f"{vb}_{ab}")
    os.makedirs(pngs, exist_ok=True)
    root = Path(cv2.data.haarcascades)
    cascade = cv2.CascadeClassifier(str(root / "haarcascade_frontalface_default.xml"))
    capture = cv2.VideoCapture(video)
    fps = capture.get(cv2.CAP_PROP_FPS)
    index, written = 0, 0
    print("Extracting landmarks... time-consuming operation")
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if has_face(cascade, frame):
            cv2.imwrite(os.path.join(pngs, f"{index:08d}.png"), frame)
            written += 1
        index += 1
    print(f"Number of frames: {index}")
    temp = os.path.join(out_dir, f"temp_{vb}_{ab}.mp4")
    os.system(
        f"ffmpeg -y -v warning -r {fps} -f image2 -i {pngs}/%08d.png -vcodec libx264 "
        f"-vf format=yuv420p -crf 18 {temp}"
    )
    os.system(f"ffmpeg -y -v warning -i {audio} -i {temp} {output}")
    print(f"Results saved to {output}")
    shutil.rmtree(pngs)
    os.remove(temp)


def main():
    args = arguments()
    calls_before = 0
    if os.environ.get("STANDIN_LOG"):
        if os.path.exists(os.environ["STANDIN_LOG"]):
            calls_before = len(open(os.environ["STANDIN_LOG"]).read().splitlines())
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}) + "\n")
    if not os.path.isfile("./models/musetalkV15/unet.pth"):  # the package loads it at import
        raise FileNotFoundError("./models/musetalkV15/unet.pth")
    if calls_before >= int(os.environ.get("STANDIN_HANG_AFTER", "0")):
        time.sleep(float(os.environ.get("STANDIN_HANG_S", "0")))
    config = yaml.safe_load(open(args.inference_config))
    print(f"Loaded inference config: {config}")
    for key in config:
        try:
            run_task(args, config[key])
        except Exception as exc:
            print("Error occurred during processing:", exc)


if __name__ == "__main__":
    main()
