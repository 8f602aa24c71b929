/* The QDQ pass's planning state, shared by qdq.c (placement, rewrite) and
 * qdq_saturation.c (ranges before saturating readers). */
#ifndef QC_QDQ_STATE_H
#define QC_QDQ_STATE_H

#include "qdq_internal.h"

typedef struct qdq_state {
  struct qc_model *m;
  qc_graph *g;
  const qc_stats_set *stats;
  const qc_quant_opts *opts;
  qc_quant_summary *out;
  int *node_q;      /* per node id: quantized */
  int *value_q;     /* per value id: gets Q/DQ */
  qc_qparams *qp;   /* per value id, valid when qp_done */
  int *qp_done;     /* 0 unknown, 1 done, -1 unavailable */
  int *kind;        /* per node id, decided on the graph as it was before the rewrite */
  int *act_slot;    /* per node id: the input a follower tracks (rescale: the non-constant one) */
  float *factor;    /* per node id: a rescale's constant */
  float *clip_top;  /* per value id: the max its absorbed Relu/Clip chain clips at (else inf) */
  int *value_region; /* per value id: its float-by-design region (from 1), else 0 */
  int *node_region;  /* per node id: likewise (the region's ops and its weighted/fused readers) */
  int nv;            /* values when planning began: the per-value arrays' size */
  double *sat_lo, *sat_hi; /* per value id: the range its saturating readers can tell apart */
  const char **sat_by;     /* per value id: which reader set it (NULL: none) */
  int *sat_used;           /* per value id: its qparams come from the clipped range */
  /* Per statistics entry: the observer's range, computed once (an mse or
   * entropy search costs milliseconds, and planning asks several times). */
  signed char *obs_known; /* 0 not yet, 1 usable, -1 none */
  float *obs_lo, *obs_hi;
} qdq_state;

static inline int qdq_kind(const qdq_state *st, int node) { return st->kind[node]; }
/* The input a follower (shared-scale op, Relu/Clip, rescale) tracks, or -1. */
int qdq_follower_input(const qdq_state *st, int node);
/* The observer's range of v; 0 when v has no usable statistics. */
int qdq_observed_range(const qdq_state *st, int v, float *rmin, float *rmax);

/* Sets sat_lo/sat_hi/sat_by for every value to quantize whose readers all
 * saturate (on the graph as planned, before absorption renames outputs). */
void qdq_saturation_bounds(qdq_state *st);
/* Appends v's clip to the summary (v's qparams came from the clipped range). */
int qdq_record_clip(qdq_state *st, int v);

#endif
