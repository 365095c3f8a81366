#!/usr/bin/env bash
# Writes the test videos into OUT with Debian's ffmpeg, from the bundled
# animal pictures (examples/images): nothing binary is committed.
#   scenes.{mp4,webm,mkv,mov}  3 s of the tiger, then 3 s of the frog, 320x240
#                          at 25 fps: H.264 in MP4, VP9 in WebM, H.264 in
#                          Matroska, the MP4's stream in QuickTime
#   scenes_av1.mkv         the same in AV1, when this ffmpeg has an AV1 encoder
#   frog_query.png         the frog as the video shows it (an image query)
#   changed.mp4            2 s each of the elephant, the owl and the lion
#   still.mp4              60 s of the owl standing still, 5 fps
#   truncated.mkv          scenes.mkv (made 12 s long) cut after 40% of its bytes
#   one_frame.mkv          the same 12 s file cut where its second frame starts: one frame,
#                          a declared duration of 12 s
#   no_frame.mkv           the same cut 200 bytes into its first frame: a header, no frame
#   avs2.avi               an H.264 stream in AVI labelled AVS2, a codec FFmpeg knows and
#                          Debian's FFmpeg has no decoder for
#   size_change.h264       raw H.264 (no time stamps): 25 frames at 320x240, then 25 at 640x480
#   px_{yuv444p.mp4,rgb24.mov,gray.mkv,yuv420p10le.mkv}  1 s of colour 0xC03020 at 64x48
#                          in those pixel formats (the grey one of its luma)
#   audio_only.mp4         2 s of a sine tone, no video stream
#   long_audio.mkv         3 s of video (320x240, 25 fps) with 6 s of sound: not truncated
#   garbage.mp4            text bytes named like a video
#   colour_cut.mp4         3 s of a red disc (255,0,0), then 3 s of a blue one (0,80,255), on
#                          grey, 320x240 at 25 fps: the two discs have the same BT.601 luma
#                          (76.2 and 76.0), so only colour tells the scenes apart
#   ref_*.png              ffmpeg's own decode of single frames (-ss T -frames:v 1)
set -euo pipefail
images=$1 out=$2
mkdir -p "$out"
cd "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
export SVT_LOG=1 # SVT-AV1 prints its configuration unless told to keep to errors

# A picture centred on white at 320x240 (RGBA stamps composited), for SEC seconds.
scene() { # picture seconds label
  printf '[%d]scale=320:240:force_original_aspect_ratio=decrease[p%s];' "$4" "$3"
  printf 'color=white:s=320x240:r=25:d=%s[bg%s];' "$2" "$3"
  printf '[bg%s][p%s]overlay=(W-w)/2:(H-h)/2:shortest=1,format=yuv420p[%s]' "$3" "$3" "$3"
}
two_scenes() { # first second seconds-each output-args...
  local a=$1 b=$2 d=$3; shift 3
  ff -loop 1 -i "$images/$a" -loop 1 -i "$images/$b" \
    -filter_complex "$(scene "$a" "$d" a 0);$(scene "$b" "$d" b 1);[a][b]concat=n=2:v=1[v]" \
    -map '[v]' -t "$((2 * d))" "$@"
}

two_scenes tiger.jpg frog.png 3 -c:v libx264 -g 50 -pix_fmt yuv420p scenes.mp4
two_scenes tiger.jpg frog.png 3 -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 300k scenes.webm
two_scenes tiger.jpg frog.png 3 -c:v libx264 -g 50 -pix_fmt yuv420p scenes.mkv
ff -i scenes.mp4 -c copy scenes.mov
rm -f scenes_av1.mkv av1_skipped.txt
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
if grep -q libsvtav1 <<< "$encoders"; then
  two_scenes tiger.jpg frog.png 3 -c:v libsvtav1 -preset 12 scenes_av1.mkv
elif grep -q libaom-av1 <<< "$encoders"; then
  two_scenes tiger.jpg frog.png 3 -c:v libaom-av1 -cpu-used 8 -b:v 200k scenes_av1.mkv
else
  echo "this ffmpeg has no AV1 encoder (libsvtav1, libaom-av1)" > av1_skipped.txt
fi

ff -loop 1 -i "$images/frog.png" -filter_complex "$(scene frog.png 1 q 0)" -map '[q]' -frames:v 1 \
  -pix_fmt rgb24 frog_query.png

ff -loop 1 -i "$images/elephant.jpg" -loop 1 -i "$images/owl.png" -loop 1 -i "$images/lion.jpg" \
  -filter_complex "$(scene e 2 a 0);$(scene o 2 b 1);$(scene l 2 c 2);[a][b][c]concat=n=3:v=1[v]" \
  -map '[v]' -t 6 -c:v libx264 -g 50 changed.mp4

ff -loop 1 -i "$images/owl.png" -filter_complex "$(scene owl.png 60 a 0);[a]fps=5[v]" -map '[v]' -t 60 \
  -c:v libx264 -g 25 still.mp4

two_scenes tiger.jpg frog.png 6 -c:v libx264 -g 25 -pix_fmt yuv420p long.mkv
size=$(stat -c %s long.mkv)
head -c $((size * 4 / 10)) long.mkv > truncated.mkv
second=$(ffprobe -v error -select_streams v -show_entries packet=pos -of csv=p=0 long.mkv | sed -n 2p)
head -c "$second" long.mkv > one_frame.mkv
first=$(ffprobe -v error -select_streams v -show_entries packet=pos -of csv=p=0 long.mkv | sed -n 1p)
head -c $((first + 200)) long.mkv > no_frame.mkv
rm long.mkv

ff -f lavfi -i sine=frequency=440:duration=2 -c:a aac audio_only.mp4
ff -f lavfi -i color=c=gray:s=320x240:r=25:d=3 -f lavfi -i sine=frequency=440:duration=6 \
  -c:v libx264 -pix_fmt yuv420p -c:a aac long_audio.mkv
seq 1 4000 > garbage.mp4

ff -f lavfi -i testsrc=size=64x48:rate=5:duration=1 -c:v libx264 avs2.avi
LC_ALL=C sed -i 's/H264/AVS2/g' avs2.avi
for s in 320x240 640x480; do
  ff -f lavfi -i "testsrc=size=$s:rate=25:duration=1" -c:v libx264 -f h264 "size_$s.h264"
done
cat size_320x240.h264 size_640x480.h264 > size_change.h264
rm size_320x240.h264 size_640x480.h264
c=color=c=0xC03020:s=64x48:r=5:d=1
ff -f lavfi -i "$c" -c:v libx264 -pix_fmt yuv444p px_yuv444p.mp4
ff -f lavfi -i "$c" -c:v qtrle -pix_fmt rgb24 px_rgb24.mov
ff -f lavfi -i "$c" -c:v ffv1 -pix_fmt gray px_gray.mkv
ff -f lavfi -i "$c" -c:v ffv1 -pix_fmt yuv420p10le px_yuv420p10le.mkv

disc() { # r g b seconds label: a disc of radius 100 in that colour, centred on grey
  local e="if(lt(hypot(X-160,Y-120),100),%d,128)"
  printf "color=c=0x808080:s=320x240:r=25:d=%s,format=gbrp,geq=r='$e':g='$e':b='$e',format=yuv420p[%s]" \
    "$4" "$1" "$2" "$3" "$5"
}
ff -filter_complex "$(disc 255 0 0 3 a);$(disc 0 80 255 3 b);[a][b]concat=n=2:v=1[v]" -map '[v]' \
  -c:v libx264 -g 50 -pix_fmt yuv420p colour_cut.mp4

for t in 0 1 4.52; do
  ff -ss "$t" -i scenes.mp4 -frames:v 1 -pix_fmt rgb24 "ref_mp4_$t.png"
  ff -ss "$t" -i scenes.webm -frames:v 1 -pix_fmt rgb24 "ref_webm_$t.png"
done
echo "videos written to $out"
