/*
 * src/core/list.h — an intrusive circular doubly linked list (internal).
 * Embed a coil__list in the element; the head is a coil__list too.
 */
#ifndef COIL_LIST_H
#define COIL_LIST_H

#include <stddef.h>

typedef struct coil__list {
    struct coil__list *prev, *next;
} coil__list;

#define coil__container_of(ptr, type, member)                               \
    ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void coil__list_init(coil__list *head)
{
    head->prev = head->next = head;
}

static inline int coil__list_empty(const coil__list *head)
{
    return head->next == head;
}

static inline void coil__list_push_back(coil__list *head, coil__list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

/* Unlink node and make it a list of its own, so removing twice is safe. */
static inline void coil__list_remove(coil__list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

#define coil__list_each(pos, head)                                          \
    for (coil__list *pos = (head)->next; pos != (head); pos = pos->next)

#endif
