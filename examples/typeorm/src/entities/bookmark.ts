import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from "typeorm";

/** A saved link. Column types are explicit, so no emitted decorator metadata is needed (tsx, esbuild). */
@Entity({ name: "bookmark" })
export class Bookmark {
  @PrimaryGeneratedColumn({ type: "int" })
  id!: number;

  @Column({ type: "text" })
  url!: string;

  @Column({ type: "text", nullable: true })
  title!: string | null;

  @CreateDateColumn({ type: "timestamptz", name: "created_at" })
  createdAt!: Date;
}
