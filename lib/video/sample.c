/* Which decoded frames to keep: scene changes, and at most `interval`
 * seconds apart. Works on small colour thumbnails so that frames which
 * are not kept cost only their decode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "video/video.h"

void cb_sampler_init(cb_sampler *s, double interval, float threshold)
{
    memset(s, 0, sizeof *s);
    s->interval = interval;
    s->threshold = threshold;
    s->last_kept = -1;
}

float cb_scene_score(cb_sampler *s, const uint8_t *thumb)
{
    const size_t n = CB_SCENE_BYTES;
    uint64_t sum = 0;
    double diff, score;

    if (!s->have_prev) {
        memcpy(s->prev, thumb, n);
        s->have_prev = 1;
        s->prev_diff = 0;
        return 1.0f; /* nothing before it: a new scene */
    }
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)abs((int)thumb[i] - (int)s->prev[i]);
    memcpy(s->prev, thumb, n);
    diff = (double)sum / (double)n;
    /* A cut differs from its predecessor far more than the previous pair
     * differed; steady motion differs about as much every frame. */
    score = fmin(diff, fabs(diff - s->prev_diff)) / 100.0;
    s->prev_diff = diff;
    return (float)(score > 1.0 ? 1.0 : score);
}

int cb_sampler_take(cb_sampler *s, double timestamp, const uint8_t *thumb)
{
    float score = cb_scene_score(s, thumb);
    int take = s->last_kept < 0 || score >= s->threshold || timestamp - s->last_kept >= s->interval;
    if (take)
        s->last_kept = timestamp;
    return take;
}
