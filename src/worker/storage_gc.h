/* storage_gc.h - removal of stored objects whose files were deleted. */
#ifndef ECCR_WORKER_STORAGE_GC_H
#define ECCR_WORKER_STORAGE_GC_H

#include "db.h"
#include "storage.h"

int storage_gc_register(void);
/* One batch; the number of objects removed, or -1. */
long storage_gc_round(struct eccr_db *db, struct eccr_storage *st);

#endif
